/**
 * Property-based fuzzing of every endpoint (fast-check): generated methods, paths, query strings (signed and
 * unsigned, well- and ill-encoded), bodies, content types and headers, in-process through `app.request` and a
 * smaller sample as raw bytes over a real socket. Whatever comes in, a client never sees a 500, a stack trace, a
 * hang, or anything but BBB's XML on the BBB API (except a join's 302, the documented JSON calls and rejoin's
 * pages).
 *
 * A failure prints fast-check's seed and the shrunk request; replay it with `{ seed, path }` in `fc.assert`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { rawExchange } from "./raw_http.ts";
import fc from "fast-check";
import { parseResponse } from "../src/bbb/xml.ts";
import { SECRET, setup, sign } from "./harness.ts";

/** Every call name bbblb knows, the refused ones, and a few it does not. */
const CALLS = [
  "",
  "create",
  "join",
  "end",
  "getMeetingInfo",
  "isMeetingRunning",
  "getMeetings",
  "move",
  "getStatistics",
  "getRecordings",
  "publishRecordings",
  "updateRecordings",
  "deleteRecordings",
  "getRecordingTextTracks",
  "putRecordingTextTrack",
  "insertDocument",
  "sendChatMessage",
  "hooks/create",
  "hooks/list",
  "hooks/destroy",
  "rejoin",
  "getJoinUrl",
  "enter",
  "setConfigXML",
  "nope",
  "create/extra",
  "..%2F..%2Fetc",
];

/** Calls BBB answers in JSON. */
const JSON_CALLS = new Set([
  "getRecordingTextTracks",
  "putRecordingTextTrack",
  "getJoinUrl",
  "learningDashboard",
]);

const PARAM_NAMES = [
  "meetingID",
  "name",
  "fullName",
  "role",
  "password",
  "moderatorPW",
  "attendeePW",
  "createTime",
  "redirect",
  "load",
  "voiceBridge",
  "serverID",
  "recordID",
  "publish",
  "meta_x",
  "callbackURL",
  "hookID",
  "logoutURL",
  "welcome",
  "userID",
  "kind",
  "lang",
  "message",
  "userName",
  "checksum",
];

const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("", "0", "-1", "1e999", "NaN", "true", "false", "x".repeat(300), "room-1", "💥", "a,b"),
  fc.integer().map(String),
);

/** One query pair, encoded well or badly. */
const pair = fc.tuple(
  fc.oneof(fc.constantFrom(...PARAM_NAMES), fc.string({ maxLength: 8 })),
  value,
  fc.nat(9),
)
  .map(([name, v, how]) => {
    if (how === 0) return `${name}=%${v.slice(0, 2)}`; // a malformed escape
    if (how === 1) return `${encodeURIComponent(name)}`; // a name without a value
    if (how === 2) return `${encodeURIComponent(name)}=${encodeURIComponent(v).replaceAll("%20", "+")}`;
    return `${encodeURIComponent(name)}=${encodeURIComponent(v)}`;
  });

/** Mostly a meetingID (often one that runs), then anything. */
const meetingPair = fc.option(
  fc.oneof(fc.constant("room-1"), fc.string({ minLength: 1, maxLength: 30 })).map((v) =>
    `meetingID=${encodeURIComponent(v)}`
  ),
  { freq: 4 },
);

/** A query string: unsigned, signed for the call, or with a wrong checksum. */
const query = (call: string) =>
  fc.tuple(
    meetingPair,
    fc.array(pair, { maxLength: 6 }),
    fc.constantFrom("signed", "signed", "signed", "unsigned", "wrong"),
  )
    .map(([first, rest, how]) => {
      const q = [...(first === null ? [] : [first]), ...rest].join("&");
      if (how === "signed") return sign(call, q);
      if (how === "wrong") return `${q}${q ? "&" : ""}checksum=${"0".repeat(64)}`;
      return q;
    });

const method = fc.oneof(
  { weight: 12, arbitrary: fc.constant("GET") },
  { weight: 5, arbitrary: fc.constant("POST") },
  { weight: 1, arbitrary: fc.constantFrom("HEAD", "PUT", "DELETE", "OPTIONS", "PATCH") },
);

const contentType = fc.constantFrom(
  undefined,
  "application/x-www-form-urlencoded",
  "application/x-www-form-urlencoded; charset=UTF-8",
  "text/xml",
  "application/xml",
  "multipart/form-data; boundary=x",
  "application/json",
  "text/plain",
  "🙃/🙃",
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 200 }),
  fc.constant(
    '<?xml version="1.0"?><modules><module name="presentation"><document url="http://x/a.pdf"/>' +
      "</module></modules>",
  ),
  fc.uint8Array({ maxLength: 200 }),
);

const headers = fc.dictionary(
  fc.constantFrom("cookie", "authorization", "x-forwarded-for", "accept", "user-agent", "x-custom"),
  fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x20-\x7e]/g, "")),
  { maxKeys: 3 },
);

/** A whole request. */
const request = fc.constantFrom(...CALLS).chain((call) =>
  fc.record({
    call: fc.constant(call),
    path: fc.oneof(
      { weight: 8, arbitrary: fc.constant(`/bigbluebutton/api/${call}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "/healthz",
          "/metrics",
          "/status",
          "/",
          "/bigbluebutton/api",
          "/bigbluebutton/callback/end/0000/x/y",
          "/bigbluebutton/api//create",
        ),
      },
    ),
    query: query(call),
    method,
    contentType,
    body,
    headers,
  })
);

type Fuzzed = typeof request extends fc.Arbitrary<infer T> ? T : never;

/** A stack trace or an internal path in a body a client sees. */
const STACK = /\n\s+at .+:\d+:\d+|file:\/\/\/|(TypeError|ReferenceError|RangeError|SyntaxError):/;

/** How often each outcome came up (returncode/messageKey, or the HTTP status), to show the fuzzers go deep. */
const tally = new Map<string, number>();

/** Check one answer against the properties (`status`, `type` and `text` as the client got them). */
function checkAnswer(r: Fuzzed, status: number, type: string, text: string): void {
  const key = text.match(/<messageKey>([^<]*)<\/messageKey>/)?.[1] ??
    text.match(/<returncode>([^<]*)<\/returncode>/)?.[1] ?? `HTTP ${status}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
  assert.notEqual(status, 500, `HTTP 500: ${text.slice(0, 300)}`);
  assert.ok(status < 500 || (r.path === "/healthz" && status === 503), `HTTP ${status}`);
  assert.doesNotMatch(text, STACK, "a stack trace or internal path");
  const api = r.path === `/bigbluebutton/api/${r.call}`;
  if (!api || r.call === "rejoin" || r.method === "HEAD" || r.method === "OPTIONS") return;
  if (r.call === "join" && status === 302) return;
  assert.equal(status, 200, `the BBB API answers HTTP 200, not ${status}: ${text.slice(0, 200)}`);
  if (JSON_CALLS.has(r.call) && type.includes("json")) {
    assert.equal(typeof JSON.parse(text).response, "object");
    return;
  }
  assert.match(type, /^text\/xml/, `not XML (${type}): ${text.slice(0, 200)}`);
  const response = parseResponse(text);
  assert.ok(response.returncode === "SUCCESS" || response.returncode === "FAILED", text.slice(0, 200));
}

/** Reject after `ms`: a request that takes longer is a hang. */
function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(`hang: ${what}`)), ms)),
  ]).finally(() => clearTimeout(timer));
}

Deno.test("fuzzed requests through app.request never get a 500, a stack trace, a hang or non-XML", async () => {
  await using h = await setup({ servers: 2, backendTimeoutMs: 1000, directory: true });
  // A meeting to hit: fuzzed calls for it reach the fake servers.
  await h.text("create", { meetingID: "room-1", name: "Room" });
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const init: RequestInit = { method: r.method, headers: { ...r.headers } };
      // A header value must be a ByteString for new Request(); the raw-socket test sends the others.
      if (r.contentType && [...r.contentType].every((ch) => ch.charCodeAt(0) <= 0xff)) {
        (init.headers as Record<string, string>)["content-type"] = r.contentType;
      }
      if (r.body !== undefined && r.method !== "GET" && r.method !== "HEAD") {
        init.body = r.body as BodyInit;
      }
      const res = await deadline(
        Promise.resolve(h.app.request(`${r.path}${r.query ? `?${r.query}` : ""}`, init)),
        8000,
        `${r.method} ${r.path}`,
      );
      const text = await res.text();
      checkAnswer(r, res.status, res.headers.get("content-type") ?? "", text);
    }),
    { numRuns: 1000 },
  );
  // The generators must reach past the checksum into the calls, or the property would test little.
  const deep = [...tally].filter(([k]) => !["checksumError", "unsupportedRequest"].includes(k))
    .reduce((n, [, v]) => n + v, 0);
  console.log("outcomes:", JSON.stringify(Object.fromEntries(tally)));
  assert.ok(deep >= 250, `only ${deep} of 1000 requests got past the checksum`);
  assert.ok((tally.get("SUCCESS") ?? 0) >= 25, "too few requests succeeded");
});

Deno.test("fuzzed raw requests over a real socket never get a 500, a stack trace, a hang or non-XML", async () => {
  await using h = await setup({ servers: 2, backendTimeoutMs: 1000, directory: true });
  await h.text("create", { meetingID: "room-1", name: "Room" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, h.app.fetch);
  try {
    // Raw targets may hold what fetch() and new Request() would re-encode or refuse: quotes, spaces, %-junk.
    const rawQuery = fc.tuple(
      query("getMeetingInfo"),
      fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, "")),
    ).map(([q, junk]) => `${q}&x='${junk.replace(/[ #]/g, "%20")}'`);
    await fc.assert(
      fc.asyncProperty(request, rawQuery, fc.boolean(), async (r, raw, useRaw) => {
        const target = `${r.path}?${useRaw && r.path.endsWith("getMeetingInfo") ? raw : r.query}`;
        const payload = r.body === undefined || r.method === "GET" || r.method === "HEAD"
          ? new Uint8Array()
          : typeof r.body === "string"
          ? new TextEncoder().encode(r.body)
          : r.body;
        const head = [
          `${r.method} ${target} HTTP/1.1`,
          `host: 127.0.0.1:${server.addr.port}`,
          "connection: close",
          ...(r.contentType ? [`content-type: ${r.contentType}`] : []),
          ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`),
          `content-length: ${payload.length}`,
          "",
          "",
        ].join("\r\n");
        const bytes = new Uint8Array([...new TextEncoder().encode(head), ...payload]);
        let res;
        try {
          const raw = await deadline(
            rawExchange("127.0.0.1", server.addr.port, bytes),
            8000,
            `${r.method} ${target}`,
          );
          res = { status: raw.status, type: raw.headers.get("content-type") ?? "", body: raw.body };
        } catch (e) {
          // A space in the request line is malformed HTTP: Deno's HTTP server answers 400 and closes, and the
          // close can reach the client as a reset before the 400 does. Only then is a reset acceptable.
          if (e instanceof Deno.errors.ConnectionReset && /\s/.test(target)) return;
          throw e;
        }
        if (res.status === 400 && res.body === "") return; // Deno's HTTP server refused malformed HTTP
        checkAnswer(r, res.status, res.type, r.method === "HEAD" ? "" : res.body);
      }),
      { numRuns: 60 },
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("the fuzzers' signed requests reach the calls: a signed create of a fresh meeting succeeds", async () => {
  // Guards the generators: if signing broke, every fuzzed request would stop at checksumError and test little.
  await using h = await setup({ servers: 1 });
  const res = await h.app.request(
    `/bigbluebutton/api/create?${sign("create", "meetingID=fuzz-guard&name=Guard")}`,
  );
  assert.match(await res.text(), /<returncode>SUCCESS<\/returncode>/);
  assert.ok(SECRET.length > 8);
});
