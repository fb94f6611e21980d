/**
 * Static files for playback, as nginx serves them in front of BBB: the content type by extension, `ETag` and
 * `Last-Modified` with conditional requests (`If-None-Match`, `If-Modified-Since` answered 304), single byte
 * ranges (`Range: bytes=…`, answered 206 with `Content-Range`, 416 when unsatisfiable, `If-Range` honoured) so
 * browsers seek in videos, `HEAD`, and never a directory listing. The body streams from the file.
 *
 * @module
 */

/** Content types by extension (lower case), for what BBB's playback formats and bbb-playback contain. */
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  map: "application/json",
  xml: "application/xml",
  svg: "image/svg+xml",
  txt: "text/plain; charset=utf-8",
  vtt: "text/vtt; charset=utf-8",
  srt: "text/plain; charset=utf-8",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  webm: "video/webm",
  mp4: "video/mp4",
  m4v: "video/mp4",
  m4a: "audio/mp4",
  ogg: "audio/ogg",
  oga: "audio/ogg",
  opus: "audio/ogg",
  mp3: "audio/mpeg",
  wav: "audio/wav",
  pdf: "application/pdf",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  wasm: "application/wasm",
};

/** The content type of a file name (by its extension; `application/octet-stream` when unknown). */
export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf(".");
  const ext = dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
  return Object.hasOwn(TYPES, ext) ? TYPES[ext] : "application/octet-stream";
}

/** Options of {@linkcode serveFile}. */
export interface ServeFileOptions {
  /** `Cache-Control` of the answer. @default "no-cache" (revalidated with the ETag every time) */
  cacheControl?: string;
  /** More headers for every answer (200, 206, 304, 416). */
  headers?: Record<string, string>;
}

/** A byte range `[start, end]` (inclusive), or `"unsatisfiable"`, or `null` to send the whole file. */
export function parseRange(header: string | null, size: number): [number, number] | "unsatisfiable" | null {
  if (header === null) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  // Several ranges or another unit: the whole file (a server may ignore Range, RFC 9110 §14.2).
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return [start, end];
}

/** The ETag of a file: its size and modification time (as nginx makes it). */
export function etagOf(st: Deno.FileInfo): string {
  const mtime = st.mtime?.getTime() ?? 0;
  return `"${Math.floor(mtime / 1000).toString(16)}-${st.size.toString(16)}"`;
}

function tagList(header: string): string[] {
  return header.split(",").map((t) => t.trim().replace(/^W\//, ""));
}

/**
 * Answer a GET or HEAD of one regular file. `path` must already be checked to lie where it may be served from;
 * a missing file, a folder or anything but a regular file (links are not followed) is `null`, for the caller's
 * 404.
 */
export async function serveFile(
  req: Request,
  path: string,
  opts: ServeFileOptions = {},
): Promise<Response | null> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(path);
  } catch {
    return null;
  }
  if (!st.isFile) return null;
  const etag = etagOf(st);
  const lastModified = st.mtime ? st.mtime.toUTCString() : null;
  const headers: Record<string, string> = {
    "content-type": contentTypeOf(path),
    "accept-ranges": "bytes",
    "etag": etag,
    "cache-control": opts.cacheControl ?? "no-cache",
    "x-content-type-options": "nosniff",
    ...opts.headers,
  };
  if (lastModified) headers["last-modified"] = lastModified;

  const ifNoneMatch = req.headers.get("if-none-match");
  const ifModifiedSince = req.headers.get("if-modified-since");
  const notModified = ifNoneMatch !== null
    ? ifNoneMatch.trim() === "*" || tagList(ifNoneMatch).includes(etag)
    : ifModifiedSince !== null && st.mtime !== null &&
      Math.floor(st.mtime.getTime() / 1000) <= Math.floor(Date.parse(ifModifiedSince) / 1000);
  if (notModified) {
    delete headers["content-type"];
    return new Response(null, { status: 304, headers });
  }

  let range = parseRange(req.headers.get("range"), st.size);
  const ifRange = req.headers.get("if-range");
  if (range !== null && ifRange !== null) {
    const matches = ifRange.trim().startsWith('"') || ifRange.trim().startsWith("W/")
      ? ifRange.trim() === etag
      : lastModified !== null && Date.parse(ifRange) === Date.parse(lastModified);
    if (!matches) range = null;
  }
  if (range === "unsatisfiable") {
    return new Response(null, {
      status: 416,
      headers: { ...headers, "content-range": `bytes */${st.size}` },
    });
  }
  const [start, end] = range ?? [0, st.size - 1];
  const length = st.size === 0 ? 0 : end - start + 1;
  headers["content-length"] = String(length);
  if (range !== null) headers["content-range"] = `bytes ${start}-${end}/${st.size}`;
  const status = range !== null ? 206 : 200;
  if (req.method === "HEAD" || length === 0) return new Response(null, { status, headers });
  const file = await Deno.open(path, { read: true });
  try {
    if (start > 0) await file.seek(start, Deno.SeekMode.Start);
  } catch (e) {
    file.close();
    throw e;
  }
  return new Response(limited(file, length), { status, headers });
}

/** The next `length` bytes of an open file as a stream; the file is closed at the end or on cancel. */
function limited(file: Deno.FsFile, length: number): ReadableStream<Uint8Array> {
  let left = length;
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      file.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    type: "bytes",
    async pull(controller) {
      const buf = new Uint8Array(Math.min(left, 64 * 1024));
      const n = await file.read(buf).catch((e) => {
        close();
        throw e;
      });
      if (n === null || n === 0) {
        close();
        controller.close();
        return;
      }
      controller.enqueue(buf.subarray(0, n));
      left -= n;
      if (left <= 0) {
        close();
        controller.close();
      }
    },
    cancel() {
      close();
    },
  });
}
