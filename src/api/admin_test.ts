/**
 * Tests of `/healthz` and `/metrics` in-process (`app.request`), against fake BBB servers on real sockets.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import { poll, setup } from "../../tests/harness.ts";
import { markFailure, setServerState } from "../store/servers.ts";

const TOKEN = "metrics-token-0123456789";

/** The value of one sample line of a Prometheus text answer, or undefined. */
function sample(text: string, line: string): number | undefined {
  const found = text.split("\n").find((l) => l.startsWith(line + " "));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

Deno.test("/healthz answers 200 ok while a server is online and enabled", async () => {
  await using h = await setup({ servers: 2 });
  const res = await h.app.request("/healthz");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok: 2 of 2 server(s) online and enabled\n");
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
});

Deno.test("/healthz answers 503 with the reason when no server is online and enabled", async () => {
  await using h = await setup({ servers: 2 });
  await setServerState(h.kv, 1, "disabled");
  await markFailure(h.kv, 2, "connection refused", 1); // offline at once with threshold 1
  const res = await h.app.request("/healthz");
  assert.equal(res.status, 503);
  assert.equal(await res.text(), "unhealthy: none of the 2 server(s) is online and enabled\n");
  await setServerState(h.kv, 1, "enabled");
  assert.equal((await h.app.request("/healthz")).status, 200);
});

Deno.test("/healthz answers 503 when no server is registered", async () => {
  await using h = await setup({ servers: 0 });
  const res = await h.app.request("/healthz");
  assert.equal(res.status, 503);
  assert.equal(await res.text(), "unhealthy: no server is registered\n");
});

Deno.test("/healthz answers 503 when the store does not answer", async () => {
  const kv = await Deno.openKv(":memory:");
  const app = createApp({ kv, secrets: () => ["a-long-secret"] });
  kv.close();
  const res = await app.request("/healthz");
  assert.equal(res.status, 503);
  assert.match(await res.text(), /^unhealthy: the store does not answer/);
});

Deno.test("/metrics shows per-server meetings, participants, videos, load and state in Prometheus text", async () => {
  await using h = await setup({ servers: 2 });
  for (const id of ["m1", "m2", "m3"]) {
    assert.match(await h.text("create", { meetingID: id, name: id, load: "2" }), /SUCCESS/);
  }
  // Live numbers come from the poller: people join directly on whichever server holds m1.
  const fake = h.fakes.find((f) => f.meetings.has("m1"))!;
  const serverOfM1 = h.fakes.indexOf(fake) + 1;
  for (let i = 0; i < 4; i++) fake.addParticipant("m1", { video: i < 2 });
  await poll(h);
  await setServerState(h.kv, 2, "cordoned");

  const res = await h.app.request("/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const s = `{server="${serverOfM1}"}`;
  const meetingsThere = [...fake.meetings.keys()].length;
  assert.equal(sample(text, `bbblb_server_meetings${s}`), meetingsThere);
  assert.equal(sample(text, `bbblb_server_participants${s}`), 4);
  assert.equal(sample(text, `bbblb_server_videos${s}`), 2);
  assert.equal(sample(text, `bbblb_server_load${s}`), 2 * meetingsThere);
  // m1 weighs max(2, 4 participants + 2 videos) = 6
  assert.equal(sample(text, `bbblb_server_effective_load${s}`), 2 * meetingsThere + 4);
  assert.equal(sample(text, `bbblb_server_online${s}`), 1);
  assert.equal(sample(text, `bbblb_server_state{server="2",state="cordoned"}`), 1);
  assert.equal(sample(text, `bbblb_server_state{server="2",state="enabled"}`), 0);
  assert.equal(sample(text, `bbblb_server_poll_failures{server="1"}`), 0);
  assert.equal(sample(text, "bbblb_servers"), 2);
  assert.match(text, /^# HELP bbblb_server_online /m);
  assert.match(text, /^# TYPE bbblb_api_request_duration_seconds histogram$/m);
});

Deno.test("/metrics counts API calls by call and returncode with a latency histogram", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "c1", name: "c1" });
  await h.text("isMeetingRunning", { meetingID: "c1" });
  await h.text("getMeetingInfo", { meetingID: "nope" });
  const join = await h.call("join", { meetingID: "c1", fullName: "A", role: "VIEWER" });
  assert.equal(join.status, 302);
  await h.app.request("/bigbluebutton/api/create?meetingID=x&checksum=00"); // wrong checksum
  await h.app.request("/bigbluebutton/api/no-such-call-1");
  await h.app.request("/bigbluebutton/api/no-such-call-2");

  const text = await (await h.app.request("/metrics")).text();
  const count = (call: string, rc: string) =>
    sample(text, `bbblb_api_requests_total{call="${call}",returncode="${rc}"}`);
  assert.equal(count("create", "SUCCESS"), 1);
  assert.equal(count("create", "FAILED"), 1);
  assert.equal(count("isMeetingRunning", "SUCCESS"), 1);
  assert.equal(count("getMeetingInfo", "FAILED"), 1);
  assert.equal(count("join", "redirect"), 1);
  assert.equal(count("other", "FAILED"), 2, "unknown calls share one label");
  assert.equal(sample(text, `bbblb_api_request_duration_seconds_count{call="create"}`), 2);
  assert.equal(sample(text, `bbblb_api_request_duration_seconds_bucket{le="+Inf",call="create"}`), 2);
  assert.ok(!text.includes("no-such-call"), "a caller's path became a label");
});

Deno.test("/metrics reports the poller's rounds it is given", async () => {
  await using h = await setup({ servers: 1 });
  h.metrics.observeRound(await poll(h));
  h.metrics.observeRound(await poll(h));
  const text = await (await h.app.request("/metrics")).text();
  assert.equal(sample(text, "bbblb_poll_round_duration_seconds_count"), 2);
  assert.equal(sample(text, "bbblb_poll_round_failed_servers"), 0);
  const perServer = sample(text, `bbblb_server_poll_duration_seconds{server="1"}`);
  assert.ok(
    perServer !== undefined && perServer >= 0 && perServer < 60,
    `per-server poll duration: ${perServer}`,
  );
});

Deno.test("/metrics needs the admin token as a bearer header when one is set; /healthz stays open", async () => {
  await using h = await setup({ servers: 1, adminToken: TOKEN });
  const none = await h.app.request("/metrics");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="bbblb"');
  assert.ok(!(await none.text()).includes("bbblb_"));
  const wrong = await h.app.request("/metrics", { headers: { authorization: `Bearer ${TOKEN}x` } });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const right = await h.app.request("/metrics", { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(right.status, 200);
  assert.match(await right.text(), /^bbblb_servers 1$/m);
  assert.equal((await h.app.request("/healthz")).status, 200);
});

Deno.test("a removed server disappears from /metrics", async () => {
  await using h = await setup({ servers: 2 });
  assert.match(await (await h.app.request("/metrics")).text(), /server="2"/);
  await h.kv.delete(["server", 2]);
  assert.doesNotMatch(await (await h.app.request("/metrics")).text(), /server="2"/);
});
