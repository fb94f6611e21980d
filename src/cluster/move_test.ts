/**
 * Tests of moving a running meeting, against fake BBB servers: the parameters it is re-created with, a failover
 * move that leaves the old copy alone, a given target that fails is never swapped for another, a meeting that
 * ended or moved during the move leaves no stray copy behind, a gone server is not waited for, and ending the old
 * copy is best effort. (The `move` call's own answers are in `api/move_test.ts`, panic's in
 * `cli/meetings_test.ts`.)
 *
 * @module
 */
import assert from "node:assert/strict";
import { holder, poll, setup, tag } from "../../tests/harness.ts";
import { BbbError } from "../bbb/errors.ts";
import type { Params } from "../bbb/query.ts";
import { createLogger } from "../log.ts";
import { getMeeting, type MeetingRecord, removeMeeting } from "../store/meetings.ts";
import { getServer } from "../store/servers.ts";
import { endOn, moveMeeting, recoveredParams, recreateParams } from "./move.ts";

type Harness = Awaited<ReturnType<typeof setup>>;

async function running(h: Harness, meetingID: string, tenant = ""): Promise<Deno.KvEntry<MeetingRecord>> {
  const entry = await getMeeting(h.kv, tenant, meetingID);
  assert.ok(entry.value, meetingID);
  return entry as Deno.KvEntry<MeetingRecord>;
}

/** The value of a parameter, asserting it appears exactly once. */
function once(params: Params, name: string): string {
  const values = params.filter(([n]) => n === name).map(([, v]) => v);
  assert.equal(values.length, 1, `${name}: ${JSON.stringify(values)}`);
  return values[0];
}

Deno.test("recreateParams() are the stored create parameters with the passwords and PIN BBB answered first", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", {
    meetingID: "room",
    name: "Room",
    attendeePW: "ap-client",
    "meta_bbb-origin": "LMS",
  });
  const m = (await running(h, "room")).value;
  const params = await recreateParams(h.ctx, m);
  assert.equal(once(params, "meetingID"), "room");
  assert.equal(once(params, "name"), "Room");
  assert.equal(once(params, "meta_bbb-origin"), "LMS");
  const onBbb = h.fakes[0].meetings.get("room")!;
  assert.equal(once(params, "attendeePW"), onBbb.attendeePW);
  assert.equal(
    once(params, "moderatorPW"),
    onBbb.moderatorPW,
    "BBB's generated one, so join links keep working",
  );
  assert.equal(once(params, "voiceBridge"), onBbb.voiceBridge, "the dial-in number stays");
});

Deno.test("an adopted meeting is re-created from a create's own parameters when given, else from what its server tells", async () => {
  await using h = await setup({ servers: 1 });
  h.fakes[0].addMeeting("adopted", {
    meetingName: "Physics",
    metadata: { course: "phy" },
    createParams: new URLSearchParams({ meetingID: "adopted", duration: "0" }),
  });
  await poll(h);
  const m = (await running(h, "adopted")).value;
  const given = await recreateParams(h.ctx, m, [["meetingID", "adopted"], ["name", "Given"]]);
  assert.equal(once(given, "name"), "Given");
  const told = await recoveredParams(h.ctx, m);
  assert.deepEqual(
    told,
    [["meetingID", "adopted"], ["name", "Physics"], ["meta_course", "phy"]],
    "duration 0 is BBB's default",
  );
});

Deno.test("a meeting its server does not answer for is re-created under its meetingID as name, scoped for its tenant", async () => {
  await using h = await setup({ servers: 1, backendTimeoutMs: 300 });
  h.fakes[0].addMeeting("law~lost", { meetingName: "Lost" });
  const m: MeetingRecord = {
    tenant: "law",
    meetingID: "lost",
    serverId: 1,
    historyId: "no-such-history",
    status: "running",
    claimedAt: 0,
    loadMilli: 1000,
    internalMeetingID: null,
    createTime: null,
    attendeePW: null,
    moderatorPW: "mp",
    voiceBridge: null,
    movedFrom: [],
  };
  assert.deepEqual(await recoveredParams(h.ctx, m), [["meetingID", "law~lost"], ["name", "Lost"]]);
  assert.equal(await recoveredParams(h.ctx, { ...m, meetingID: "other" }), null, "not on the server");
  h.fakes[0].mode = "http500";
  assert.equal(await recoveredParams(h.ctx, m), null, "the server fails");
  assert.deepEqual(await recreateParams(h.ctx, m), [
    ["meetingID", "law~lost"],
    ["name", "lost"],
    ["meta_bbblb-tenant", "law"],
    ["moderatorPW", "mp"],
  ]);
});

Deno.test("a failover move (endOld false) switches the record and leaves the old copy alone", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "fo", name: "FO" });
  const from = holder(h.fakes, "fo");
  const entry = await running(h, "fo");
  const moved = await moveMeeting(h.ctx, entry, { endOld: false, reason: "failover" });
  assert.equal(moved.entry.value.serverId, 2 - from);
  assert.equal(moved.recovered, false);
  assert.equal(tag(moved.text, "returncode"), "SUCCESS");
  assert.ok(h.fakes[1 - from].meetings.has("fo"));
  assert.ok(h.fakes[from].meetings.has("fo"), "not ended");
  assert.equal(h.fakes[from].requests.filter((r) => r.call === "end").length, 0);
});

Deno.test("a move to a given server that fails there is tried once and never sent to another server instead", async () => {
  await using h = await setup({ servers: 3 });
  await h.text("create", { meetingID: "given", name: "Given" });
  const from = holder(h.fakes, "given");
  const [target, other] = [0, 1, 2].filter((i) => i !== from);
  h.fakes[target].callModes.create = "http500";
  const before = await running(h, "given");
  await assert.rejects(
    moveMeeting(h.ctx, before, { serverId: target + 1, endOld: true, reason: "move" }),
    (e) => e instanceof BbbError && e.messageKey === "serverUnavailable",
  );
  const creates = (i: number) => h.fakes[i].requests.filter((r) => r.call === "create").length;
  assert.equal(creates(target), 1, "tried once: the operator asked for this server");
  assert.equal(creates(other), 0);
  assert.deepEqual((await running(h, "given")).value, before.value);
  assert.ok(h.fakes[from].meetings.has("given"));
});

Deno.test("a meeting that ended during its move is notFound, and the copy just created for it is ended", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "gone", name: "Gone" });
  const from = holder(h.fakes, "gone");
  const entry = await running(h, "gone");
  await removeMeeting(h.kv, entry, "ended"); // ended while the move was on its way
  await assert.rejects(
    moveMeeting(h.ctx, entry, { endOld: true, reason: "move" }),
    (e) => e instanceof BbbError && e.messageKey === "notFound",
  );
  assert.equal(
    h.fakes[1 - from].requests.filter((r) => r.call === "create").length,
    1,
    "it was created there",
  );
  assert.equal(h.fakes[1 - from].meetings.has("gone"), false, "and ended again");
});

Deno.test("a meeting moved by someone else during a move keeps its new place; the extra copy is ended", async () => {
  await using h = await setup({ servers: 3 });
  await h.text("create", { meetingID: "race", name: "Race" });
  const from = holder(h.fakes, "race");
  const stale = await running(h, "race");
  const [first, second] = [0, 1, 2].filter((i) => i !== from);
  const winner = await moveMeeting(h.ctx, stale, { serverId: first + 1, endOld: true, reason: "move" });
  const error = await moveMeeting(h.ctx, stale, { serverId: second + 1, endOld: false, reason: "move" })
    .catch((e) => e);
  assert.ok(error instanceof BbbError);
  assert.equal(error.messageKey, "serverUnavailable");
  assert.match(error.message, /changed while it was being moved/);
  assert.deepEqual((await running(h, "race")).value, winner.entry.value);
  assert.deepEqual(h.fakes.map((f) => f.meetings.has("race")), [0, 1, 2].map((i) => i === first));
});

Deno.test("a move off a silent server is refused until the server is gone, then goes ahead without it", async () => {
  await using h = await setup({ servers: 2, failoverDelayMs: 0, backendTimeoutMs: 300 });
  await h.text("create", { meetingID: "dead", name: "Dead" });
  const from = holder(h.fakes, "dead");
  await h.fakes[from].stop();
  await poll(h);
  await poll(h); // offline now
  const waiting = { ...h.ctx, failoverDelayMs: 60_000 };
  await assert.rejects(
    moveMeeting(waiting, await running(h, "dead"), { endOld: true, reason: "move" }),
    (e) =>
      e instanceof BbbError && e.messageKey === "serverUnavailable" && /participants behind/.test(e.message),
  );
  assert.equal(h.fakes[1 - from].meetings.has("dead"), false);
  // With no failover delay the offline server is gone: nothing is left to wait for.
  const moved = await moveMeeting(h.ctx, await running(h, "dead"), { endOld: true, reason: "move" });
  assert.equal(moved.entry.value.serverId, 2 - from);
  assert.ok(h.fakes[1 - from].meetings.has("dead"));
});

Deno.test("endOn() ends a meeting with its moderator password; notFound is fine and a failure never throws", async () => {
  await using h = await setup({ servers: 1, backendTimeoutMs: 300 });
  const lines: string[] = [];
  const ctx = { ...h.ctx, log: createLogger({ write: (l) => lines.push(l) }) };
  await h.text("create", { meetingID: "old", name: "Old" });
  const server = (await getServer(h.kv, 1))!;
  const moderatorPW = h.fakes[0].meetings.get("old")!.moderatorPW;
  await endOn(ctx, server, "old", moderatorPW);
  assert.equal(h.fakes[0].meetings.has("old"), false);
  assert.equal(h.fakes[0].requests.at(-1)!.params.get("password"), moderatorPW);
  await endOn(ctx, server, "old", moderatorPW); // already ended: BBB's notFound
  assert.deepEqual(lines, []);
  h.fakes[0].mode = "hang";
  await endOn(ctx, server, "old", null);
  assert.equal(lines.some((l) => /server call failed server=1 call=end/.test(l)), true);
});
