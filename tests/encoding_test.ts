/**
 * Checksums and encodings over real sockets: what a client signs is what bbblb verifies, and what bbblb
 * forwards is what the BBB server verifies, for every character a front-end may send.
 *
 * @module
 */
import assert from "node:assert/strict";
import { urlSafeQuery } from "../src/bbb/query.ts";
import { holder, setup, type SetupOptions, sign, tag } from "./harness.ts";
import { createLogger } from "../src/log.ts";
import { rawGet } from "./raw_http.ts";

/** Serve a harness's app on a free port for the duration of `fn`. */
async function served(
  fn: (base: string, h: Awaited<ReturnType<typeof setup>>) => Promise<void>,
  options: SetupOptions = {},
) {
  await using h = await setup(options);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, h.app.fetch);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/bigbluebutton/api/`, h);
  } finally {
    await server.shutdown();
  }
}

const SPECIAL = "Ελληνικά 中文 🎉 & = + ' ( ) * ! ~ %";

/** Encodings a client library may produce for a value: each is valid when signed as sent. */
const ENCODINGS: Record<string, (s: string) => string> = {
  // encodeURIComponent leaves ' ( ) * ! ~ raw: the bytes fetch() would re-encode
  encodeURIComponent,
  // form style: spaces as +
  form: (s) => encodeURIComponent(s).replaceAll("%20", "+"),
  // everything escaped (like Java's URLEncoder plus more)
  strict: (s) =>
    encodeURIComponent(s).replace(/[!'()*~]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase()),
  // lower-case hex escapes
  lowerHex: (s) => encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
};

Deno.test("create, join and getMeetingInfo work with special characters in any encoding signed as sent", async () => {
  await served(async (base, h) => {
    for (const [name, enc] of Object.entries(ENCODINGS)) {
      const meetingID = `${SPECIAL} ${name}`;
      const query = `meetingID=${enc(meetingID)}&name=${enc(SPECIAL)}`;
      const created = await rawGet(`${base}create?${sign("create", query)}`);
      assert.equal(tag(created.body, "returncode"), "SUCCESS", `${name}: ${created.body}`);
      const fake = h.fakes[holder(h.fakes, meetingID)];
      assert.equal(fake.meetings.get(meetingID)!.meetingName, SPECIAL);

      const joinQuery = `meetingID=${enc(meetingID)}&fullName=${enc(SPECIAL)}&role=VIEWER`;
      const joined = await rawGet(`${base}join?${sign("join", joinQuery)}`);
      assert.equal(joined.status, 302, name);
      const location = joined.headers.get("location")!;
      // the client's encoding is kept, but for what a browser would re-encode when following the redirect
      assert.ok(location.includes(urlSafeQuery(joinQuery)), `${name}: ${location}`);
      // follow byte for byte, as a browser does: the fake must accept bbblb's checksum
      const landed = await rawGet(location);
      assert.equal(landed.status, 302, `${name}: ${landed.body}`);
      assert.equal(fake.meetings.get(meetingID)!.participants.at(-1)!.fullName, SPECIAL);

      const info = await rawGet(
        `${base}getMeetingInfo?${sign("getMeetingInfo", `meetingID=${enc(meetingID)}`)}`,
      );
      assert.equal(tag(info.body, "returncode"), "SUCCESS", name);
    }
  });
});

Deno.test("+ and %20 are both valid when signed as sent, and wrong when signed as the other", async () => {
  await served(async (base) => {
    const plus = "meetingID=a+b+room&name=Plus+Name";
    const pct = "meetingID=a%20b%20room&name=Plus%20Name";
    assert.equal(tag((await rawGet(`${base}create?${sign("create", plus)}`)).body, "returncode"), "SUCCESS");
    const again = await rawGet(`${base}create?${sign("create", pct)}`);
    assert.equal(tag(again.body, "messageKey"), "duplicateWarning"); // the same meeting, decoded
    const crossed = await rawGet(
      `${base}create?${pct}&checksum=${sign("create", plus).split("checksum=")[1]}`,
    );
    assert.equal(tag(crossed.body, "messageKey"), "checksumError");
  });
});

Deno.test("the checksum may stand first, in the middle or last", async () => {
  await served(async (base) => {
    const query = "meetingID=pos-room&name=Position";
    const sum = sign("create", query).split("checksum=")[1];
    for (
      const target of [
        `checksum=${sum}&${query}`,
        `meetingID=pos-room&checksum=${sum}&name=Position`,
        `${query}&checksum=${sum}`,
      ]
    ) {
      assert.equal(tag((await rawGet(`${base}create?${target}`)).body, "returncode"), "SUCCESS", target);
    }
  });
});

Deno.test("a wrong, missing, empty, odd-length or non-hex checksum is checksumError", async () => {
  await served(async (base, h) => {
    const query = "meetingID=bad-sum&name=Bad";
    const sum = sign("create", query).split("checksum=")[1];
    for (
      const target of [
        `${query}&checksum=${sum.replace(/^./, sum[0] === "0" ? "1" : "0")}`,
        query,
        `${query}&checksum=`,
        `${query}&checksum=${sum.slice(1)}`,
        `${query}&checksum=${"g".repeat(64)}`,
        `${query}&checksum=${sum}%ZZ`,
      ]
    ) {
      const res = await rawGet(`${base}create?${target}`);
      assert.equal(res.status, 200);
      assert.equal(tag(res.body, "messageKey"), "checksumError", target);
    }
    assert.equal(h.fakes.every((f) => f.requests.length === 0), true);
  });
});

Deno.test("100 KB of parameters work as a signed form body", async () => {
  await served(async (base, h) => {
    const body = sign("create", `meetingID=long-room&name=Long&welcome=${"w".repeat(100_000)}`);
    const res = await fetch(`${base}create`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    assert.equal(tag(await res.text(), "returncode"), "SUCCESS");
    const fake = h.fakes[holder(h.fakes, "long-room")];
    assert.equal(fake.meetings.get("long-room")!.createParams.get("welcome")!.length, 100_000);
  });
});

Deno.test("a 100 KB query string is refused by the HTTP layer and the server keeps serving", async () => {
  // Deno's HTTP server closes a connection whose request head exceeds 64 KiB (as nginx answers 414 and Tomcat
  // 400 in front of a real BBB); the limit is not configurable. Below it, the app answers as BBB would.
  await served(async (base) => {
    const huge = `meetingID=long-room&name=Long&welcome=${"w".repeat(100_000)}`;
    await assert.rejects(() => rawGet(`${base}create?${sign("create", huge)}`));
    const big = `meetingID=long-room&name=Long&welcome=${"w".repeat(60_000)}`;
    assert.equal(tag((await rawGet(`${base}create?${sign("create", big)}`)).body, "returncode"), "SUCCESS");
  });
  // in-process (no HTTP layer) a 100 KB query gets a BBB answer
  await using h = await setup({ servers: 1 });
  const body = await h.text("getMeetingInfo", { meetingID: "x".repeat(100_000) });
  assert.equal(tag(body, "messageKey"), "validationError");
});

Deno.test("an invalid percent-escape is validationError over a real socket", async () => {
  await served(async (base) => {
    const query = "meetingID=%E0%A4%A&name=Broken";
    const res = await rawGet(`${base}create?${sign("create", query)}`);
    assert.equal(res.status, 200);
    assert.equal(tag(res.body, "messageKey"), "validationError");
  });
});

Deno.test("API paths with repeated slashes are answered as BBB's nginx and Tomcat answer them", async () => {
  await served(async (base) => {
    const origin = base.replace("/bigbluebutton/api/", "");
    // A front-end configured with .../bigbluebutton/ whose client appends /api/...
    const query = "meetingID=slashes&name=Slashes";
    const created = await rawGet(`${origin}/bigbluebutton//api/create?${sign("create", query)}`);
    assert.equal(tag(created.body, "returncode"), "SUCCESS", created.body);
    const info = await rawGet(
      `${origin}//bigbluebutton/api//getMeetingInfo?${sign("getMeetingInfo", "meetingID=slashes")}`,
    );
    assert.equal(tag(info.body, "meetingID"), "slashes", info.body);
    const index = await rawGet(`${origin}/bigbluebutton//api/`);
    assert.equal(tag(index.body, "returncode"), "SUCCESS");
    // The checksum still covers the query as sent: a wrong one is refused on the merged path too.
    const wrong = await rawGet(`${origin}/bigbluebutton//api/getMeetings?checksum=${"0".repeat(64)}`);
    assert.equal(tag(wrong.body, "messageKey"), "checksumError");
  });
});

Deno.test("an unknown path is a 404 logged at debug level with its path and a hint, never its query", async () => {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", format: "json", write: (l) => lines.push(l) });
  await served(async (base) => {
    const origin = base.replace("/bigbluebutton/api/", "");
    const res = await rawGet(`${origin}/api/create?meetingID=x&checksum=${"a".repeat(40)}`);
    assert.equal(res.status, 404);
  }, { log });
  const line = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "unknown path");
  assert.ok(line, `no unknown path line in:\n${lines.join("\n")}`);
  assert.equal(line.level, "debug");
  assert.equal(line.path, "/api/create");
  assert.match(line.hint, /\/bigbluebutton\/api\//);
  assert.ok(!lines.join("\n").includes("a".repeat(40)), "the checksum was logged");
});

Deno.test("--checksum-algorithms restricts what front-ends may sign with; other checksums are checksumError", async () => {
  await served(async (base) => {
    const sha1 = await rawGet(`${base}getMeetings?${sign("getMeetings", "", undefined, "sha1")}`);
    assert.equal(tag(sha1.body, "messageKey"), "checksumError", sha1.body);
    const sha512 = await rawGet(`${base}getMeetings?${sign("getMeetings", "", undefined, "sha512")}`);
    assert.equal(tag(sha512.body, "returncode"), "SUCCESS", sha512.body);
  }, { checksumAlgorithms: ["sha256", "sha512"] });
});
