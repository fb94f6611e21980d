import assert from "node:assert/strict";
import { keys } from "./keys.ts";
import { loadOf as loadValueOf } from "./load.ts";
import {
  claimMeeting,
  getHistory,
  getMeeting,
  hasMeetings,
  listAllLive,
  loadCreateParams,
  markRunning,
  type MeetingLive,
  type MeetingRecord,
  meetingRef,
  meetingsOnServer,
  newHistoryId,
  removeMeeting,
  writeLive,
} from "./meetings.ts";
import { addServer, listServers, removeServer, type ServerRecord } from "./servers.ts";

const server = (id: number): ServerRecord => ({
  id,
  apiUrl: `http://127.0.0.1:1/bigbluebutton/api/`,
  secret: "s",
  weight: 1,
  state: "enabled",
  checksum: "sha256",
  addedAt: 0,
});

async function loadOf(kv: Deno.Kv, id: number): Promise<number> {
  return loadValueOf(await kv.get<Deno.KvU64>(keys.load(id)));
}

async function claim(kv: Deno.Kv, meetingID: string, serverId: number, loadMilli = 1000) {
  const view = (await listServers(kv)).find((s) => s.id === serverId)!;
  return await claimMeeting(kv, {
    tenant: "",
    meetingID,
    serverId,
    loadMilli,
    loadEntry: { value: view.loadMilli, versionstamp: view.loadVersionstamp },
    now: Date.now(),
  });
}

Deno.test("claimMeeting() adds the meeting, its index entry, its history and its load in one step", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, server(1));
  const c = await claim(kv, "room", 1, 2500);
  assert.ok(c);
  assert.equal(c.value.status, "creating");
  assert.equal(await loadOf(kv, 1), 2500);
  assert.equal((await kv.get(keys.meetingByServer(1, "", "room"))).value, c.value.historyId);
  assert.equal(
    (await kv.get<{ meetingID: string }>(keys.history(c.value.historyId))).value?.meetingID,
    "room",
  );
});

Deno.test("claimMeeting() fails for a meetingID that is taken, and when the load changed since it was read", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, server(1));
  const stale = (await listServers(kv))[0];
  assert.ok(await claim(kv, "a", 1));
  assert.equal(await claim(kv, "a", 1), null);
  const late = await claimMeeting(kv, {
    tenant: "",
    meetingID: "b",
    serverId: 1,
    loadMilli: 1000,
    loadEntry: { value: stale.loadMilli, versionstamp: stale.loadVersionstamp },
    now: 0,
  });
  assert.equal(late, null);
  assert.equal(await loadOf(kv, 1), 1000);
});

Deno.test("20 concurrent claims of one meetingID: exactly one wins", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, server(1));
  await addServer(kv, server(2));
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => claim(kv, "same", 1 + (i % 2))));
  assert.equal(results.filter((r) => r !== null).length, 1);
  assert.equal((await loadOf(kv, 1)) + (await loadOf(kv, 2)), 1000);
});

Deno.test("removeMeeting() subtracts the load exactly once, however often it is called", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, server(1));
  const a = await claim(kv, "a", 1, 3000);
  await claim(kv, "b", 1, 1000);
  const results = await Promise.all([removeMeeting(kv, a!, "end"), removeMeeting(kv, a!, "end")]);
  assert.deepEqual(results.sort(), [false, true]);
  assert.equal(await removeMeeting(kv, a!, "end"), false);
  assert.equal(await loadOf(kv, 1), 1000);
  assert.equal((await getMeeting(kv, "", "a")).value, null);
  assert.equal((await kv.get(keys.meetingByServer(1, "", "a"))).versionstamp, null);
  const history = await kv.get<{ endedAt: number; endReason: string }>(keys.history(a!.value.historyId));
  assert.equal(history.value?.endReason, "end");
});

Deno.test("removeMeeting() leaves a re-created meeting alone", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, server(1));
  const first = await claim(kv, "a", 1);
  assert.equal(await removeMeeting(kv, first!, "end"), true);
  const second = await claim(kv, "a", 1);
  assert.equal(await removeMeeting(kv, first!, "end"), false); // the stale entry must not end the new instance
  assert.equal((await getMeeting(kv, "", "a")).value?.historyId, second!.value.historyId);
  assert.equal(await loadOf(kv, 1), 1000);
});

Deno.test("removeMeeting(createFailed) forgets the instance and its parameters entirely", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, server(1));
  const c = await claim(kv, "a", 1);
  assert.equal(await removeMeeting(kv, c!, "createFailed"), true);
  assert.equal((await kv.get(keys.history(c!.value.historyId))).versionstamp, null);
  assert.equal(await loadOf(kv, 1), 0);
});

Deno.test("markRunning() stores BBB's answer and the create parameters, even beyond one 64 KiB value", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, server(1));
  const c = await claim(kv, "a", 1);
  const welcome = "Ω".repeat(100_000); // 200 KB of UTF-8
  const running = await markRunning(kv, c!, {
    internalMeetingID: "abc-1",
    createTime: "1",
    attendeePW: "ap",
    moderatorPW: "mp",
    voiceBridge: "70001",
  }, [["meetingID", "a"], ["welcome", welcome]]);
  assert.equal(running?.value.status, "running");
  const stored = (await getMeeting(kv, "", "a")).value as MeetingRecord;
  assert.equal(stored.moderatorPW, "mp");
  assert.deepEqual(await loadCreateParams(kv, c!.value.historyId), [["meetingID", "a"], [
    "welcome",
    welcome,
  ]]);
  // a stale claim cannot be marked running twice
  assert.equal(await markRunning(kv, c!, { ...stored }, []), null);
});

Deno.test("two connections to one KV file never place one meetingID twice", async () => {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  const a = await Deno.openKv(path);
  const b = await Deno.openKv(path);
  try {
    await addServer(a, server(1));
    await addServer(a, server(2));
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => claim(i % 2 ? a : b, `m${i % 10}`, 1 + (i % 2))),
    );
    assert.equal(results.filter((r) => r !== null).length <= 10, true);
    const meetings = await Array.fromAsync(a.list<MeetingRecord>({ prefix: keys.meetings("") }));
    const total = meetings.reduce((n, m) => n + m.value.loadMilli, 0);
    assert.equal((await loadOf(a, 1)) + (await loadOf(a, 2)), total);
  } finally {
    a.close();
    b.close();
    await Deno.remove(path);
  }
});

Deno.test("removeServer() refuses while meetings run there, and with force forgets them but keeps history", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, server(1));
  const c = await claim(kv, "a", 1);
  await assert.rejects(() => removeServer(kv, 1, false), /still has 1 running meeting/);
  assert.deepEqual(await removeServer(kv, 1, true), { forgotten: 1 });
  assert.equal((await getMeeting(kv, "", "a")).value, null);
  assert.equal(
    (await kv.get<{ endReason: string }>(keys.history(c!.value.historyId))).value?.endReason,
    "serverRemoved",
  );
  assert.deepEqual(await listServers(kv), []);
});

Deno.test("newHistoryId() sorts by creation time", () => {
  assert.ok(newHistoryId(1000) < newHistoryId(2000));
  assert.equal(newHistoryId().length, 24);
});

Deno.test("saving shorter create parameters for an instance drops the older, longer chunks", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, server(1));
  const c = await claim(kv, "a", 1);
  const details = {
    internalMeetingID: "i",
    createTime: "1",
    attendeePW: "a",
    moderatorPW: "m",
    voiceBridge: "1",
  };
  const running = await markRunning(kv, c!, details, [["welcome", "x".repeat(150_000)]]);
  await markRunning(kv, running!, { ...details, createTime: "2" }, [["welcome", "short"]]);
  assert.deepEqual(await loadCreateParams(kv, c!.value.historyId), [["welcome", "short"]]);
});

Deno.test("meetingsOnServer lists the meetings placed on a server, and hasMeetings says whether a tenant has one", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await addServer(kv, server(1));
    await addServer(kv, server(2));
    await claim(kv, "a", 1);
    await claim(kv, "b", 2);
    assert.deepEqual(await meetingsOnServer(kv, 1), [["", "a"]]);
    assert.equal(await hasMeetings(kv, ""), true);
    assert.equal(await hasMeetings(kv, "other"), false);
  } finally {
    kv.close();
  }
});

Deno.test("writeLive saves a round's live records and deletes those of meetings that are gone", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const live = (historyId: string): MeetingLive => ({
      historyId,
      participants: 2,
      listeners: 0,
      voiceParticipants: 0,
      videos: 0,
      moderators: 1,
      missed: 0,
    });
    await writeLive(kv, [["", "a", live("h1")], ["", "b", live("h2")]], []);
    const all = await listAllLive(kv);
    assert.equal(all.size, 2);
    await writeLive(kv, [["", "a", { ...live("h1"), participants: 5 }]], [all.get(meetingRef("", "b"))!]);
    const after = await listAllLive(kv);
    assert.deepEqual([...after.keys()], [meetingRef("", "a")]);
    assert.equal(after.get(meetingRef("", "a"))!.value.participants, 5);
  } finally {
    kv.close();
  }
});

Deno.test("getHistory finds an instance by its historyId, and null for an unknown one", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await addServer(kv, server(1));
    const claimed = await claim(kv, "a", 1);
    assert.ok(claimed);
    const record = (await getMeeting(kv, "", "a")).value!;
    assert.equal((await getHistory(kv, record.historyId))?.meetingID, "a");
    assert.equal(await getHistory(kv, "nope"), null);
  } finally {
    kv.close();
  }
});
