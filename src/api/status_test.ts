/**
 * Tests of `/status` in-process: the table and its escaping, and the token by bearer header, by `?token=` once
 * (cookie and redirect), and refusals. The page in a real browser: `tests/status_browser_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { holder, poll, setup } from "../../tests/harness.ts";
import { markFailure, setServerState, updateServer } from "../store/servers.ts";
import { humanBytes, shortError } from "./status.ts";
import { recordThroughBbblb, uploadPublished, withTempDir } from "../../tests/recording_fixtures.ts";
import { recordingStats, saveUpload } from "../store/recordings.ts";
import { keys } from "../store/keys.ts";

const TOKEN = "status-token-0123456789";

Deno.test("/status shows one row per server with state, health, meetings and a load bar", async () => {
  await using h = await setup({ servers: 2 });
  assert.match(await h.text("create", { meetingID: "m1", name: "Meeting 1", load: "3" }), /SUCCESS/);
  await setServerState(h.kv, 2, "cordoned");
  const res = await h.app.request("/status");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  const html = await res.text();
  assert.match(html, /<meta http-equiv="refresh" content="10">/);
  assert.equal(html.match(/<tr class="server"/g)?.length, 2);
  assert.match(html, /class="state state-cordoned">cordoned</);
  assert.match(html, /1 meeting\(s\)/);
  assert.match(html, /style="width:100%"/, "the busiest server has a full bar");
  assert.match(html, /style="width:0%"/);
});

Deno.test("/status escapes what it shows", async () => {
  await using h = await setup({ servers: 1 });
  const health = (await h.kv.get<Record<string, unknown>>(keys.health(1))).value!;
  await h.kv.set(keys.health(1), { ...health, lastError: "<script>alert(1)</script>" });
  const html = await (await h.app.request("/status")).text();
  assert.ok(!html.includes("<script>"), "unescaped markup");
  assert.match(html, /&#60;script&#62;/);
});

Deno.test("/status with a token: bearer header works, anything else is 401", async () => {
  await using h = await setup({ servers: 1, adminToken: TOKEN });
  const none = await h.app.request("/status");
  assert.equal(none.status, 401);
  assert.ok(!(await none.text()).includes("<table"));
  const bearer = await h.app.request("/status", { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(bearer.status, 200);
  await bearer.body?.cancel();
  const wrong = await h.app.request(`/status?token=${TOKEN}x`);
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get("set-cookie"), null);
  await wrong.body?.cancel();
  const forged = await h.app.request("/status", { headers: { cookie: `bbblb_status=${"0".repeat(64)}` } });
  assert.equal(forged.status, 401);
  await forged.body?.cancel();
});

Deno.test("/status?token= sets an HttpOnly cookie without the token and redirects to /status", async () => {
  await using h = await setup({ servers: 1, adminToken: TOKEN });
  const first = await h.app.request(`/status?token=${TOKEN}`);
  assert.equal(first.status, 303);
  assert.equal(first.headers.get("location"), "/status");
  const cookie = first.headers.get("set-cookie") ?? "";
  assert.match(
    cookie,
    /^bbblb_status=[0-9a-f]{64}; Max-Age=43200; Path=\/status; HttpOnly; SameSite=Strict$/,
  );
  assert.ok(!cookie.includes(TOKEN), "the token itself went into the cookie");
  const page = await h.app.request("/status", { headers: { cookie: cookie.split(";")[0] } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<tr class="server"/);
});

Deno.test("a split meeting shows on /status and in bbblb_split_meetings until it is healed", async () => {
  await using h = await setup({ servers: 2 });
  assert.match(await h.text("create", { meetingID: "twice", name: "Twice" }), /SUCCESS/);
  const on = holder(h.fakes, "twice");
  h.fakes[on].addParticipant("twice");
  h.fakes[1 - on].addMeeting("twice"); // made directly on the other server, someone inside
  h.fakes[1 - on].addParticipant("twice");
  await poll(h);
  const html = await (await h.app.request("/status")).text();
  assert.equal(html.match(/<tr class="split"/g)?.length, 1);
  assert.match(await (await h.app.request("/metrics")).text(), /^bbblb_split_meetings 1$/m);
  h.fakes[1 - on].meetings.get("twice")!.participants.length = 0;
  await poll(h);
  await poll(h);
  assert.equal(h.fakes[1 - on].meetings.has("twice"), false, "the copy nobody is in was ended");
  assert.doesNotMatch(await (await h.app.request("/status")).text(), /<tr class="split"/);
  assert.match(await (await h.app.request("/metrics")).text(), /^bbblb_split_meetings 0$/m);
});

Deno.test("/status says a server's last error in a few words, the full text in its tooltip", async () => {
  await using h = await setup({ servers: 1 });
  const raw = "getMeetings: cannot reach bbb1.example.org: fetch failed (error sending request for url " +
    "(https://bbb1.example.org/bigbluebutton/api/getMeetings): client error (Connect): dns error: failed to " +
    "lookup address information: Name or service not known)";
  await markFailure(h.kv, 1, raw, 2);
  const html = await (await h.app.request("/status")).text();
  const err = html.match(/<div class="err" title="([^"]*)">([^<]*)<\/div>/);
  assert.ok(err, "no error shown");
  assert.equal(err[2], "host name not found (DNS)");
  assert.match(err[1], /dns error: failed to lookup address/);
  assert.equal(
    shortError("getMeetings: no answer from bbb2.example.org within 5000 ms"),
    "no answer within 5 s",
  );
  assert.equal(
    shortError(
      "getMeetings: cannot reach 10.0.0.2:443: tcp connect error: Connection refused (os error 111)",
    ),
    "connection refused",
  );
  assert.equal(
    shortError("the server refused bbblb's checksum: is the secret right?").startsWith("wrong secret"),
    true,
  );
  assert.equal(shortError("x".repeat(200)).length, 80);
});

Deno.test("/status and /metrics show each server's BBB version, or that it is unknown", async () => {
  await using h = await setup({ servers: 2 });
  await updateServer(h.kv, 1, { revealedVersion: "3.0.34" });
  const html = await (await h.app.request("/status")).text();
  assert.match(html, /<th>BBB<\/th>/);
  assert.match(html, /<td class="version">3\.0\.34<\/td>/);
  assert.match(html, /<td class="version">\?<\/td>/);
  const metrics = await (await h.app.request("/metrics")).text();
  assert.match(metrics, /^bbblb_server_bbb_version_info\{server="1",version="3\.0\.34"\} 1$/m);
  assert.doesNotMatch(metrics, /bbblb_server_bbb_version_info\{server="2"/);
});

Deno.test("/status shows the recordings' import queue, the storage they use and what is free on their disk", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir, routedFallback: false });
    await using routed = await setup({ servers: 0 });
    assert.doesNotMatch(
      await (await routed.app.request("/status")).text(),
      /Import queue/,
      "routed mode has no recordings section",
    );
    const made = await recordThroughBbblb(h, "room");
    await uploadPublished(h, made, { formats: ["presentation", "video"] });
    // an upload that arrived and waits for its import
    await saveUpload(h.kv, {
      id: "0000000000000000000000000000",
      serverId: 1,
      receivedAt: Date.now(),
      state: "received",
      items: [],
      owner: null,
      until: 0,
      finishedAt: null,
    });
    const html = await (await h.app.request("/status")).text();
    const cell = (cls: string) => new RegExp(`<td class="num ${cls}">([^<]*)<`).exec(html)?.[1];
    assert.equal(cell("queue"), "1");
    assert.match(html, /1 waiting, 0 importing/);
    assert.equal(cell("count"), "1");
    const used = (await recordingStats(h.kv)).bytes;
    assert.ok(used > 2000, `${used}`);
    assert.equal(cell("used"), humanBytes(used));
    assert.match(cell("free") ?? "", /^\d+\.\d (KiB|MiB|GiB|TiB)$/);
  });
});

Deno.test("humanBytes says sizes in binary units", () => {
  assert.equal(humanBytes(512), "512 B");
  assert.equal(humanBytes(1536), "1.5 KiB");
  assert.equal(humanBytes(5 * 1024 ** 3), "5.0 GiB");
});
