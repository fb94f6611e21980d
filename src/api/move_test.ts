/**
 * Tests of the custom call `move`: where a meeting goes, what is refused, and that no participant is left behind.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertLoadsExact, holder, poll, PUBLIC_URL, setup, tag } from "../../tests/harness.ts";
import { keys } from "../store/keys.ts";
import { getMeeting, type HistoryRecord } from "../store/meetings.ts";
import { listServers, setServerState } from "../store/servers.ts";

Deno.test("move without serverID re-creates the meeting elsewhere, then ends it on the old server", async () => {
  await using h = await setup({ servers: 3 });
  const created = await h.text("create", {
    meetingID: "mv-room",
    name: "Move Room",
    "meta_bbb-origin": "Greenlight",
    logoutURL: "https://lms.example.org/after",
    load: "2",
  });
  const from = holder(h.fakes, "mv-room");
  const original = h.fakes[from].meetings.get("mv-room")!;
  const body = await h.text("move", { meetingID: "mv-room" });
  assert.equal(tag(body, "returncode"), "SUCCESS");
  const to = holder(h.fakes, "mv-room");
  assert.notEqual(to, from);
  assert.equal(h.fakes.filter((f) => f.meetings.has("mv-room")).length, 1); // ended on the old server
  const moved = h.fakes[to].meetings.get("mv-room")!;
  assert.equal(tag(body, "internalMeetingID"), moved.internalMeetingID); // the target's create answer
  assert.equal(moved.meetingName, "Move Room");
  assert.equal(moved.moderatorPW, original.moderatorPW);
  assert.equal(moved.attendeePW, original.attendeePW);
  assert.equal(moved.voiceBridge, tag(created, "voiceBridge"));
  assert.equal(moved.metadata["bbb-origin"], "Greenlight");
  // the server got a rejoin link; the client's own logoutURL is kept for rejoin
  assert.ok(moved.createParams.get("logoutURL")!.startsWith(`${PUBLIC_URL}/bigbluebutton/api/rejoin?`));
  const m = (await getMeeting(h.kv, "", "mv-room")).value!;
  assert.equal(m.serverId, to + 1);
  const old = (await h.kv.get<HistoryRecord>(keys.history(m.movedFrom[0].historyId))).value!;
  assert.equal(old.movedTo, m.historyId);
  await assertLoadsExact(h.kv);
  assert.equal((await listServers(h.kv)).find((s) => s.id === to + 1)!.loadMilli, 2000);
});

Deno.test("move to a given server, and the refusals: sameServer, notFound, serverNotEligible, bad serverID", async () => {
  await using h = await setup({ servers: 4 });
  await h.text("create", { meetingID: "target-room", name: "Target" });
  const current = holder(h.fakes, "target-room") + 1;
  const others = [1, 2, 3, 4].filter((id) => id !== current);
  const key = async (params: Record<string, string>) => tag(await h.text("move", params), "messageKey");
  assert.equal(await key({ meetingID: "target-room", serverID: String(current) }), "sameServer");
  assert.equal(await key({ meetingID: "target-room", serverID: "99" }), "notFound");
  assert.match(await h.text("move", { meetingID: "target-room", serverID: "99" }), /server/);
  assert.equal(await key({ meetingID: "target-room", serverID: "x1" }), "validationError");
  assert.equal(await key({ meetingID: "no-such-room", serverID: String(others[0]) }), "notFound");
  assert.equal(await key({ serverID: String(others[0]) }), "missingParamMeetingID");
  await setServerState(h.kv, others[0], "disabled");
  await setServerState(h.kv, others[1], "cordoned");
  for (const id of others.slice(0, 2)) {
    assert.equal(await key({ meetingID: "target-room", serverID: String(id) }), "serverNotEligible");
  }
  await h.fakes[others[2] - 1].stop();
  await poll(h);
  await poll(h);
  assert.equal(await key({ meetingID: "target-room", serverID: String(others[2]) }), "serverNotEligible");
  await h.fakes[others[2] - 1].restart();
  await poll(h);
  await poll(h);
  assert.equal(
    tag(await h.text("move", { meetingID: "target-room", serverID: String(others[2]) }), "returncode"),
    "SUCCESS",
  );
  assert.equal(holder(h.fakes, "target-room"), others[2] - 1);
});

Deno.test("a move that no server can take changes nothing and ends nothing", async () => {
  await using h = await setup({ servers: 2, backendTimeoutMs: 300 });
  await h.text("create", { meetingID: "stuck-room", name: "Stuck" });
  const from = holder(h.fakes, "stuck-room");
  const before = (await getMeeting(h.kv, "", "stuck-room")).value!;
  await h.fakes[1 - from].stop();
  assert.equal(tag(await h.text("move", { meetingID: "stuck-room" }), "messageKey"), "serverUnavailable");
  assert.ok(h.fakes[from].meetings.has("stuck-room"));
  assert.deepEqual((await getMeeting(h.kv, "", "stuck-room")).value, before);
  await assertLoadsExact(h.kv);
});

Deno.test("a move whose target refuses the create tries the next eligible server", async () => {
  await using h = await setup({ servers: 3 });
  await h.text("create", { meetingID: "next-room", name: "Next" });
  const from = holder(h.fakes, "next-room");
  const [a, b] = [0, 1, 2].filter((i) => i !== from);
  h.fakes[a].mode = "garbage";
  h.fakes[b].mode = "http500";
  assert.equal(tag(await h.text("move", { meetingID: "next-room" }), "messageKey"), "serverUnavailable");
  h.fakes[b].mode = "ok";
  await poll(h);
  assert.equal(tag(await h.text("move", { meetingID: "next-room" }), "returncode"), "SUCCESS");
  assert.equal(holder(h.fakes, "next-room"), b);
});

Deno.test("move of a meeting whose server does not answer is refused: its participants are never left behind", async () => {
  await using h = await setup({ servers: 2, backendTimeoutMs: 300 });
  await h.text("create", { meetingID: "stuck-room", name: "Stuck" });
  const on = holder(h.fakes, "stuck-room");
  h.fakes[on].addParticipant("stuck-room");
  h.fakes[on].mode = "hang";
  const answer = await h.text("move", { meetingID: "stuck-room" });
  assert.equal(tag(answer, "messageKey"), "serverUnavailable");
  assert.match(answer, /participants behind/);
  assert.equal(h.fakes[1 - on].meetings.has("stuck-room"), false, "no second room was opened");
  assert.equal((await getMeeting(h.kv, "", "stuck-room")).value!.serverId, on + 1);
});
