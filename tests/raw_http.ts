/**
 * A raw HTTP/1.1 GET over a TCP socket. `fetch()`, `new Request()` and `app.request()` re-encode URLs (`'`
 * becomes `%27`), which would hide exactly the encoding bugs the checksum tests exist for.
 *
 * @module
 */

/** A parsed HTTP response. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/**
 * Send `GET <target>` byte for byte to `url`'s host and port and read the whole response.
 *
 * @param url absolute URL whose origin is used; its path and query are sent exactly as written
 */
export async function rawGet(url: string): Promise<RawResponse> {
  const m = url.match(/^http:\/\/([^/:]+):(\d+)(\/.*)$/);
  if (!m) throw new Error(`not an http URL with a port: ${url}`);
  const [, host, port, target] = m;
  const request = `GET ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`;
  return await rawExchange(host, Number(port), new TextEncoder().encode(request));
}

/** Send raw bytes as one HTTP/1.1 request (it should say `Connection: close`) and read the whole response. */
export async function rawExchange(host: string, port: number, request: Uint8Array): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: host, port });
  try {
    await conn.write(request);
    const bytes = new Uint8Array(await new Response(conn.readable).arrayBuffer());
    return parse(new TextDecoder().decode(bytes));
  } catch (e) {
    try {
      conn.close();
    } catch { /* already closed by the stream */ }
    throw e;
  }
}

function parse(text: string): RawResponse {
  const split = text.indexOf("\r\n\r\n");
  const head = text.slice(0, split < 0 ? text.length : split).split("\r\n");
  let body = split < 0 ? "" : text.slice(split + 4);
  const status = Number(head[0].split(" ")[1] ?? 0);
  const headers = new Map<string, string>();
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  if (headers.get("transfer-encoding") === "chunked") {
    let out = "";
    for (;;) {
      const eol = body.indexOf("\r\n");
      const size = parseInt(body.slice(0, eol), 16);
      if (!size) break;
      out += body.slice(eol + 2, eol + 2 + size);
      body = body.slice(eol + 2 + size + 2);
    }
    body = out;
  }
  return { status, headers, body };
}
