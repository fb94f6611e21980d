/**
 * Tests of probes against fake BBB servers: a meeting a server runs, one it does not, and a server that cannot
 * tell; a valid answer either way ends the server's failure streak, and concurrent probes share one call.
 *
 * @module
 */
import assert from "node:assert/strict";
import { setup } from "../../tests/harness.ts";
import { getServer, getServerWithHealth, markFailure } from "../store/servers.ts";
import { probeMeeting } from "./probe.ts";

const probeCalls = (fake: { requests: { call: string }[] }) =>
  fake.requests.filter((r) => r.call === "getMeetingInfo").length;

Deno.test("a probe finds a meeting the server runs, with what BBB answered, and ends the server's failure streak", async () => {
  await using h = await setup({ servers: 1 });
  const onBbb = h.fakes[0].addMeeting("law~room", { attendeePW: "ap", moderatorPW: "mp" });
  await markFailure(h.kv, 1, "getMeetings: HTTP 500", 2);
  const probe = await probeMeeting(h.ctx, (await getServer(h.kv, 1))!, "law~room");
  assert.equal(probe.state, "running");
  if (probe.state !== "running") return;
  assert.deepEqual(probe.details, {
    internalMeetingID: onBbb.internalMeetingID,
    createTime: String(onBbb.createTime),
    attendeePW: "ap",
    moderatorPW: "mp",
    voiceBridge: onBbb.voiceBridge,
  });
  assert.equal(probe.info.meetingID, "law~room");
  const { health } = (await getServerWithHealth(h.kv, 1))!;
  assert.deepEqual([health.failures, health.failingSince], [0, null], "failover waits again");
});

Deno.test("a probe of a meeting the server does not run is absent, and the server's answer counts as an answer", async () => {
  await using h = await setup({ servers: 1 });
  h.fakes[0].addMeeting("room");
  await markFailure(h.kv, 1, "getMeetings: HTTP 500", 2);
  const server = (await getServer(h.kv, 1))!;
  assert.deepEqual(await probeMeeting(h.ctx, server, "law~room"), { state: "absent" }, "another tenant's ID");
  assert.deepEqual(await probeMeeting(h.ctx, server, "other-room"), { state: "absent" });
  assert.equal((await getServerWithHealth(h.kv, 1))!.health.failures, 0);
});

Deno.test("a server that cannot tell fails the probe: an HTTP error counts against it, another FAILED answer is named", async () => {
  await using h = await setup({ servers: 1 });
  const server = (await getServer(h.kv, 1))!;
  h.fakes[0].mode = "http500";
  const broken = await probeMeeting(h.ctx, server, "room");
  assert.equal(broken.state, "failed");
  assert.equal((await getServerWithHealth(h.kv, 1))!.health.failures, 1);
  h.fakes[0].mode = "ok";
  // A meetingID BBB refuses to look up (too short): neither running nor absent.
  assert.deepEqual(await probeMeeting(h.ctx, server, "x"), {
    state: "failed",
    error: "getMeetingInfo answered validationError",
  });
});

Deno.test("concurrent probes of one meeting on one server share one call; the next probe asks again", async () => {
  await using h = await setup({ servers: 2 });
  h.fakes[0].addMeeting("room");
  const [one, two] = await Promise.all([1, 2].map((id) => getServer(h.kv, id)));
  const results = await Promise.all([
    probeMeeting(h.ctx, one!, "room"),
    probeMeeting(h.ctx, one!, "room"),
    probeMeeting(h.ctx, one!, "room"),
    probeMeeting(h.ctx, two!, "room"),
  ]);
  assert.deepEqual(results.map((r) => r.state), ["running", "running", "running", "absent"]);
  assert.equal(probeCalls(h.fakes[0]), 1);
  assert.equal(probeCalls(h.fakes[1]), 1, "another server is asked on its own");
  await probeMeeting(h.ctx, one!, "room");
  assert.equal(probeCalls(h.fakes[0]), 2, "a finished probe is not reused");
});
