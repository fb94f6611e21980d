/**
 * Never a secret in a log line: `./bbblb serve --log-format json --log-level debug` in its own process runs a
 * full session — servers added, meetings created with and without passwords, joins by password and by role, a
 * wrong checksum, a failing server, a move, polls, the operator endpoints, end, SIGTERM — and its whole log is
 * then searched for every secret, checksum, join password, join cookie and admin token that took part.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeBbb } from "./fake_bbb.ts";
import { createStore, runBbblb, signedPath, startServe } from "./bbblb_process.ts";

const API_SECRET = "log-api-secret-" + crypto.randomUUID();
const TOKEN = "log-admin-token-" + crypto.randomUUID();
const ATTENDEE_PW = "attendee-pw-" + crypto.randomUUID().slice(0, 8);
const MODERATOR_PW = "moderator-pw-" + crypto.randomUUID().slice(0, 8);

/** The value of `name` in a query string or URL. */
function param(urlOrQuery: string, name: string): string | null {
  const q = urlOrQuery.includes("?") ? urlOrQuery.slice(urlOrQuery.indexOf("?") + 1) : urlOrQuery;
  return new URLSearchParams(q).get(name);
}

function tag(xml: string, name: string): string | undefined {
  return xml.match(new RegExp(`<${name}>([^<]*)</${name}>`))?.[1];
}

Deno.test("a full JSON-logged run of serve logs no secret, checksum, join password, cookie or token", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-logs-" });
  const kv = `${dir}/bbblb.kv`;
  const fakes = [
    await FakeBbb.start({ secret: "log-fake-1-" + crypto.randomUUID() }),
    await FakeBbb.start({ secret: "log-fake-2-" + crypto.randomUUID() }),
  ];
  const secrets = new Set<string>([
    API_SECRET,
    TOKEN,
    ATTENDEE_PW,
    MODERATOR_PW,
    ...fakes.map((f) => f.secret),
  ]);
  await createStore(kv);
  for (const [i, fake] of fakes.entries()) {
    const res = await runBbblb(["add-server", String(i + 1), fake.url, "-", "--kv", kv], {
      stdin: fake.secret,
    });
    assert.equal(res.code, 0, res.stderr);
  }
  const serve = await startServe({
    kv,
    secret: API_SECRET,
    args: ["--log-format", "json", "--log-level", "debug", "--admin-token", TOKEN, "--poll-interval", "1"],
  });
  try {
    const api = `http://127.0.0.1:${serve.port}/bigbluebutton/api/`;
    const call = async (name: string, query: string, init: RequestInit = {}) => {
      const path = signedPath(name, query, API_SECRET);
      secrets.add(param(path, "checksum")!);
      return await fetch(api + path, { redirect: "manual", ...init });
    };
    const text = async (name: string, query: string) => await (await call(name, query)).text();

    // A meeting with given passwords, one whose passwords BBB generates.
    const given = await text(
      "create",
      `meetingID=room-1&name=Room+1&attendeePW=${ATTENDEE_PW}&moderatorPW=${MODERATOR_PW}&welcome=hi`,
    );
    assert.match(given, /SUCCESS/);
    const generated = await text("create", "meetingID=room-2&name=Room+2");
    assert.match(generated, /SUCCESS/);
    for (const pw of ["attendeePW", "moderatorPW"]) secrets.add(tag(generated, pw)!);

    // Joins: by password (BBB 2.x clients) and by role; the redirect carries a backend checksum and a cookie.
    for (
      const q of [
        `meetingID=room-1&fullName=Ann&password=${MODERATOR_PW}`,
        `meetingID=room-2&fullName=Bob&password=${tag(generated, "attendeePW")}`,
        "meetingID=room-2&fullName=Cem&role=VIEWER",
      ]
    ) {
      const res = await call("join", q);
      assert.equal(res.status, 302);
      secrets.add(param(res.headers.get("location")!, "checksum")!);
      const cookie = res.headers.get("set-cookie");
      if (cookie) secrets.add(cookie.split(";")[0].split("=").slice(1).join("="));
      await res.body?.cancel();
    }
    assert.match(await text("getMeetingInfo", "meetingID=room-1"), /SUCCESS/);
    assert.match(await text("isMeetingRunning", "meetingID=room-2"), /SUCCESS/);
    assert.match(await text("getMeetings", ""), /SUCCESS/);
    // A wrong checksum (logged at warn, without the checksum).
    const wrong = "0123456789abcdef0123456789abcdef01234567";
    secrets.add(wrong);
    const bad = await fetch(`${api}create?meetingID=x&name=x&checksum=${wrong}`);
    assert.match(await bad.text(), /checksumError/);
    // A server that fails, then comes back; a move; the operator endpoints.
    fakes[0].mode = "http500";
    await new Promise((r) => setTimeout(r, 2500));
    fakes[0].mode = "ok";
    assert.match(await text("move", "meetingID=room-1"), /SUCCESS|serverUnavailable|sameServer/);
    for (const path of ["/healthz", "/metrics", `/status?token=${TOKEN}`]) {
      const res = await fetch(`http://127.0.0.1:${serve.port}${path}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        redirect: "manual",
      });
      const cookie = res.headers.get("set-cookie");
      if (cookie) secrets.add(cookie.split(";")[0].split("=").slice(1).join("="));
      await res.body?.cancel();
    }
    assert.match(await text("end", "meetingID=room-2"), /SUCCESS/);
  } finally {
    await serve.terminate();
  }
  try {
    // What bbblb signed towards the servers, and the rejoin links it put into the meetings.
    for (const fake of fakes) {
      for (const r of fake.requests) {
        const sum = r.params.get("checksum");
        if (sum) secrets.add(sum);
        const logout = r.params.get("logoutURL");
        if (logout && param(logout, "checksum")) secrets.add(param(logout, "checksum")!);
      }
    }
    const log = serve.stderr + serve.stdout;
    const lines = log.split("\n").filter((l) => l.trim() !== "");
    // The log is real: JSON lines with the API calls, the poller and the server failure in it.
    for (const line of lines) JSON.parse(line);
    const entries = lines.map((l) => JSON.parse(l));
    const calls = new Set(entries.filter((e) => e.msg === "api").map((e) => e.call));
    for (const c of ["create", "join", "getMeetingInfo", "isMeetingRunning", "getMeetings", "move", "end"]) {
      assert.ok(calls.has(c), `no log line for ${c}`);
    }
    assert.ok(
      entries.some((e) => e.msg === "api" && e.messageKey === "checksumError"),
      "no checksumError line",
    );
    assert.ok(entries.some((e) => e.msg === "poll round"), "no poll round line");
    assert.ok(secrets.size >= 15, `only ${secrets.size} secrets collected`);
    for (const secret of secrets) {
      assert.ok(secret.length >= 8, `a short value cannot be searched for: ${secret.length}`);
      for (const form of new Set([secret, encodeURIComponent(secret)])) {
        const at = log.indexOf(form);
        assert.equal(at, -1, `a secret appeared in the log: …${log.slice(Math.max(0, at - 80), at)}`);
      }
    }
  } finally {
    for (const fake of fakes) await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
