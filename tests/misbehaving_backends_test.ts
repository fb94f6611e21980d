/**
 * BBB servers that misbehave in the ways real ones do — garbage XML, an HTML error page, a redirect, a slow drip
 * of bytes, a connection reset — each become a clear failure of that server (named in its health) and never a
 * failure of the calls the other servers can answer. (A hanging server, HTTP 500 and an HTML body with status
 * 200 are covered in `src/api/app_test.ts` and the poller's tests.)
 *
 * The bad server is a raw TCP listener, so it can do what a well-behaved HTTP library never would.
 *
 * @module
 */
import assert from "node:assert/strict";
import { addServer, listServers } from "../src/store/servers.ts";
import { holder, poll, setup, tag } from "./harness.ts";

/** How the bad server answers every request. */
type Misbehaviour = "garbage-xml" | "html-error-page" | "redirect" | "drip" | "reset";

/** A raw HTTP listener that reads each request's head and then misbehaves. */
class BadServer implements AsyncDisposable {
  readonly listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #done: Promise<void>;
  #closed = false;

  constructor(readonly mode: Misbehaviour) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#done = this.#serve();
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.listener.addr.port}/bigbluebutton/api/`;
  }

  async #serve(): Promise<void> {
    const pending: Promise<void>[] = [];
    try {
      for await (const conn of this.listener) {
        this.#conns.add(conn);
        pending.push(this.#answer(conn).finally(() => this.#conns.delete(conn)));
      }
    } catch {
      // listener closed
    }
    await Promise.allSettled(pending);
  }

  async #answer(conn: Deno.TcpConn): Promise<void> {
    const enc = new TextEncoder();
    const write = (s: string) => conn.write(enc.encode(s));
    try {
      const buf = new Uint8Array(16384);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      switch (this.mode) {
        case "garbage-xml": {
          const body = "<response><returncode>SUCCESS</returncode><meetings><meeting><meetingID>x</meet";
          await write(
            `HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: ${body.length}\r\n` +
              `connection: close\r\n\r\n${body}`,
          );
          break;
        }
        case "html-error-page": {
          const body = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway" +
            "</h1></center><hr><center>nginx</center></body></html>\r\n";
          await write(
            `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: ${body.length}\r\n` +
              `connection: close\r\n\r\n${body}`,
          );
          break;
        }
        case "redirect":
          await write(
            "HTTP/1.1 302 Found\r\nlocation: https://sso.example.org/login\r\ncontent-length: 0\r\n" +
              "connection: close\r\n\r\n",
          );
          break;
        case "drip": {
          // Headers at once, then one byte of a valid-looking body every 100 ms, for longer than any timeout.
          await write("HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: 100000\r\n\r\n");
          for (let i = 0; i < 600 && !this.#closed; i++) {
            await write(i === 0 ? "<" : " ");
            await new Promise((r) => setTimeout(r, 100));
          }
          break;
        }
        case "reset":
          break; // closed right after the request arrived, without a byte of answer
      }
    } catch {
      // the client gave up (timeout): fine
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    this.listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.#done;
  }
}

const CASES: [Misbehaviour, RegExp][] = [
  ["garbage-xml", /did not answer BBB XML/],
  ["html-error-page", /HTTP 502/],
  ["redirect", /HTTP 302/],
  ["drip", /no answer .* within 500 ms/],
  ["reset", /cannot reach/],
];

for (const [mode, why] of CASES) {
  Deno.test(`a server answering with ${mode} fails alone: placement skips it, getMeetings lists the others`, async () => {
    // A short create timeout: a dripping server leaves the create in doubt that long (the default is 15 s).
    await using h = await setup({ servers: 2, backendTimeoutMs: 500, createTimeoutMs: 1000 });
    await using bad = new BadServer(mode);
    // One meeting on each good server first, so the empty bad server is the one placement prefers.
    for (const id of ["warm-1", "warm-2"]) {
      assert.equal(tag(await h.text("create", { meetingID: id, name: "Warm" }), "returncode"), "SUCCESS");
    }
    await addServer(h.kv, {
      id: 3,
      apiUrl: bad.apiUrl,
      secret: "bad-secret",
      weight: 1,
      state: "enabled",
      checksum: "sha256",
      addedAt: 0,
    });

    // create: the bad server is tried first, fails within the timeout, and the meeting lands on a good one.
    const created = await h.text("create", { meetingID: `room-${mode}`, name: "Room" });
    assert.equal(tag(created, "returncode"), "SUCCESS", created);
    assert.notEqual(holder(h.fakes, `room-${mode}`), -1);
    const health = (await listServers(h.kv)).find((s) => s.id === 3)!.health;
    assert.equal(health.excluded, true, "out of placement until its next good poll");
    assert.match(health.lastError ?? "", why);

    // getMeetings: SUCCESS with what the good servers hold, within the timeout plus a margin.
    h.fakes[1].addMeeting("direct-on-2");
    const t0 = performance.now();
    const list = await h.text("getMeetings");
    assert.ok(performance.now() - t0 < 500 + 1500, "answered within the backend timeout plus a margin");
    assert.equal(tag(list, "returncode"), "SUCCESS", list);
    assert.ok(list.includes(`<meetingID>room-${mode}</meetingID>`));
    assert.ok(list.includes("<meetingID>direct-on-2</meetingID>"));

    // A poll round counts the bad server as failed and the good ones as answering.
    const report = await poll(h, { backendTimeoutMs: 500 });
    assert.equal(report.failedServers, 1);
    const after = await listServers(h.kv);
    assert.equal(after.filter((s) => s.id !== 3).every((s) => s.health.lastError === null), true);
    assert.match(after.find((s) => s.id === 3)!.health.lastError ?? "", why);
  });
}
