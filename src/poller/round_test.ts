import assert from "node:assert/strict";
import { assertLoadsExact, holder, poll, pollDeps, setup, tag } from "../../tests/harness.ts";
import { newPollState, pollRound } from "./round.ts";
import { keys } from "../store/keys.ts";
import { loadValue } from "../store/load.ts";
import { getMeeting, type HistoryRecord, type MeetingLive, setSeen } from "../store/meetings.ts";
import { listServers, type ServerRecord, setServerState } from "../store/servers.ts";

async function server(h: { kv: Deno.Kv }, id: number) {
  return (await listServers(h.kv)).find((s) => s.id === id)!;
}

Deno.test("a server that is down goes offline after two failed rounds and online after two good ones", async () => {
  await using h = await setup({ servers: 2 });
  await h.fakes[0].stop();
  await poll(h);
  let s1 = await server(h, 1);
  assert.equal(s1.online, true);
  assert.equal(s1.placeable, false); // out of placement at the first failure
  assert.match(s1.health.lastError!, /cannot reach/);
  await poll(h);
  s1 = await server(h, 1);
  assert.equal(s1.online, false);
  assert.equal((await server(h, 2)).online, true);

  await h.fakes[0].restart();
  await poll(h);
  assert.equal((await server(h, 1)).online, false);
  await poll(h);
  s1 = await server(h, 1);
  assert.equal(s1.online, true);
  assert.equal(s1.placeable, true);
  assert.equal(s1.health.lastError, null);
  assert.ok(s1.health.lastGoodPoll! > Date.now() - 60_000);
});

Deno.test("a hanging server fails its round without holding up the others", async () => {
  await using h = await setup({ servers: 3 });
  h.fakes[1].mode = "hang";
  const report = await poll(h, { backendTimeoutMs: 300 });
  assert.equal(report.failedServers, 1);
  assert.match((await server(h, 2)).health.lastError!, /no answer .* within 300 ms/);
  assert.equal((await server(h, 1)).placeable, true);
});

Deno.test("a wrong secret is a failure whose reason says so", async () => {
  await using h = await setup({ servers: 1 });
  h.fakes[0].secret = "changed-on-the-server";
  await poll(h);
  assert.match((await server(h, 1)).health.lastError!, /secret/);
});

Deno.test("a meeting the server no longer lists is ended after two rounds and its load freed once", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "gone", name: "Gone", load: "4" });
  await h.text("create", { meetingID: "stay", name: "Stay" });
  h.fakes[0].meetings.delete("gone");
  await poll(h);
  assert.equal((await getMeeting(h.kv, "", "gone")).value?.status, "running"); // one missed round is not enough
  const report = await poll(h);
  assert.equal(report.ended, 1);
  assert.equal((await getMeeting(h.kv, "", "gone")).value, null);
  assert.equal((await server(h, 1)).loadMilli, 1000);
  await poll(h);
  assert.equal((await server(h, 1)).loadMilli, 1000);
  await assertLoadsExact(h.kv);
});

Deno.test("only getMeetings requests sent after the create answer arrived can show a meeting ended", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "young", name: "Young" });
  h.fakes[0].meetings.delete("young");
  // Rounds whose requests were sent before bbblb learned that the meeting runs (a slow create) count for nothing.
  const early = () => Date.now() - 60_000;
  await pollRound({ ...pollDeps(h), now: early });
  await pollRound({ ...pollDeps(h), now: early });
  assert.equal((await getMeeting(h.kv, "", "young")).value?.status, "running");
  await new Promise((r) => setTimeout(r, 5)); // rounds sent in the create answer's millisecond do not count
  await poll(h);
  assert.equal(
    (await getMeeting(h.kv, "", "young")).value?.status,
    "running",
    "one missed round is not enough",
  );
  await poll(h);
  assert.equal((await getMeeting(h.kv, "", "young")).value, null);
});

Deno.test("a meeting reappearing after one missed round is kept", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "blink", name: "Blink" });
  const m = h.fakes[0].meetings.get("blink")!;
  h.fakes[0].meetings.delete("blink");
  await poll(h);
  h.fakes[0].meetings.set("blink", m);
  await poll(h);
  h.fakes[0].meetings.delete("blink");
  await poll(h);
  assert.equal((await getMeeting(h.kv, "", "blink")).value?.status, "running");
});

Deno.test("an unknown running meeting is adopted with load 1, and the API then agrees with the server", async () => {
  await using h = await setup({ servers: 2 });
  h.fakes[1].addMeeting("direct-room", { meetingName: "Direct" });
  h.fakes[1].addParticipant("direct-room", { fullName: "Eve" });
  const report = await poll(h);
  assert.equal(report.adopted, 1);
  const m = (await getMeeting(h.kv, "", "direct-room")).value!;
  assert.equal(m.serverId, 2);
  assert.equal(m.loadMilli, 1000);
  assert.equal(m.moderatorPW, h.fakes[1].meetings.get("direct-room")!.moderatorPW);
  assert.equal((await server(h, 2)).loadMilli, 1000);
  assert.equal(tag(await h.text("isMeetingRunning", { meetingID: "direct-room" }), "running"), "true");
  const join = await h.call("join", { meetingID: "direct-room", fullName: "Fay", role: "VIEWER" });
  await join.body?.cancel();
  assert.ok(join.headers.get("location")!.startsWith(h.fakes[1].apiUrl));
  assert.equal((await poll(h)).adopted, 0);
});

Deno.test("ended meetings still listed and breakout rooms are not adopted; breakout participants still count", async () => {
  await using h = await setup({ servers: 1 });
  const ended = h.fakes[0].addMeeting("ended-room");
  ended.ended = true;
  ended.endTime = Date.now();
  h.fakes[0].addMeeting("breakout-room", { isBreakout: true });
  h.fakes[0].addParticipant("breakout-room");
  h.fakes[0].addParticipant("breakout-room");
  assert.equal((await poll(h)).adopted, 0);
  assert.equal((await getMeeting(h.kv, "", "ended-room")).value, null);
  assert.equal((await getMeeting(h.kv, "", "breakout-room")).value, null);
  assert.equal((await server(h, 1)).stats.participants, 2);
});

Deno.test("live counts are stored and a crowded meeting weighs its participants in placement", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "lecture", name: "Lecture" }); // declared load 1
  const lectureServer = holder(h.fakes, "lecture");
  for (let i = 0; i < 30; i++) h.fakes[lectureServer].addParticipant("lecture", { video: i < 5 });
  await poll(h);
  const live = (await h.kv.get<MeetingLive>(keys.meetingLive("", "lecture"))).value!;
  assert.equal(live.participants, 30);
  assert.equal(live.videos, 5);
  const stats = (await server(h, lectureServer + 1)).stats;
  assert.equal(stats.participants, 30);
  assert.equal(stats.extraMilli, 34_000); // max(1, 30 + 5) - 1
  assert.equal((await server(h, lectureServer + 1)).loadMilli, 1000); // the declared sum is unchanged
  for (let i = 0; i < 10; i++) await h.text("create", { meetingID: `small-${i}`, name: "Small" });
  assert.equal(h.fakes[lectureServer].meetings.size, 1); // all ten went to the other server
});

Deno.test("a drifted load sum is repaired to the sum of the meetings' declared load", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "drift", name: "Drift", load: "3" });
  const id = holder(h.fakes, "drift") + 1;
  await h.kv.set(keys.load(id), loadValue(123_456));
  await h.kv.set(keys.load(id === 1 ? 2 : 1), loadValue(5));
  const report = await poll(h);
  assert.equal(report.repaired, 2);
  await assertLoadsExact(h.kv);
  assert.equal((await server(h, id)).loadMilli, 3000);
});

Deno.test("meetings on a server that was removed are dropped", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "orphan", name: "Orphan" });
  const id = holder(h.fakes, "orphan") + 1;
  await h.kv.delete(keys.server(id));
  await poll(h);
  assert.equal((await getMeeting(h.kv, "", "orphan")).value, null);
});

Deno.test("the poller never changes the admin's state, except a cordoned server that emptied", async () => {
  await using h = await setup({ servers: 3 });
  await h.text("create", { meetingID: "keep", name: "Keep" });
  const busy = holder(h.fakes, "keep") + 1;
  const [idle1, idle2] = [1, 2, 3].filter((id) => id !== busy);
  await setServerState(h.kv, busy, "cordoned");
  await setServerState(h.kv, idle1, "panic");
  await setServerState(h.kv, idle2, "cordoned");
  await poll(h);
  await poll(h);
  assert.equal((await server(h, busy)).state, "cordoned"); // meetings still run there
  assert.equal((await server(h, idle1)).state, "panic"); // only `enable` lifts a panic
  assert.equal((await server(h, idle2)).state, "disabled"); // drained
  await h.text("end", { meetingID: "keep" });
  await poll(h);
  assert.equal((await server(h, busy)).state, "disabled");
});

Deno.test("failover: the next create re-creates a meeting of an offline server elsewhere, same passwords", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "fail", name: "Fail", welcome: "Hello", load: "2" });
  const from = holder(h.fakes, "fail");
  const to = 1 - from;
  const original = h.fakes[from].meetings.get("fail")!;
  await h.fakes[from].stop();
  await poll(h);
  await poll(h);
  assert.equal((await server(h, from + 1)).online, false);
  // until a create or join moves it, the meeting is not running and its info is notFound (no waiting)
  assert.equal(tag(await h.text("isMeetingRunning", { meetingID: "fail" }), "running"), "false");
  assert.equal(tag(await h.text("getMeetingInfo", { meetingID: "fail" }), "messageKey"), "notFound");

  const body = await h.text("create", { meetingID: "fail", name: "Fail" });
  assert.equal(tag(body, "returncode"), "SUCCESS");
  const moved = h.fakes[to].meetings.get("fail")!;
  assert.equal(moved.moderatorPW, original.moderatorPW);
  assert.equal(moved.attendeePW, original.attendeePW);
  assert.equal(moved.voiceBridge, original.voiceBridge);
  assert.equal(moved.createParams.get("welcome"), "Hello"); // from the stored create parameters
  const m = (await getMeeting(h.kv, "", "fail")).value!;
  assert.equal(m.serverId, to + 1);
  assert.equal(m.loadMilli, 2000);
  const old = (await h.kv.get<HistoryRecord>(keys.history(m.movedFrom[0].historyId))).value!;
  assert.equal(old.movedTo, m.historyId);
  assert.equal(old.endReason, "moved");
  await assertLoadsExact(h.kv);
  assert.deepEqual([(await server(h, 1)).loadMilli, (await server(h, 2)).loadMilli].sort(), [0, 2000]);
});

Deno.test("failover: a join moves the meeting and rewrites a createTime of the moved instance", async () => {
  await using h = await setup({ servers: 2 });
  const created = await h.text("create", { meetingID: "jf", name: "Join Failover" });
  const oldCreateTime = tag(created, "createTime")!;
  const from = holder(h.fakes, "jf");
  await h.fakes[from].stop();
  await poll(h);
  await poll(h);
  const res = await h.call("join", {
    meetingID: "jf",
    fullName: "Gus",
    role: "VIEWER",
    createTime: oldCreateTime,
  });
  await res.body?.cancel();
  assert.equal(res.status, 302);
  const target = h.fakes[1 - from];
  const location = res.headers.get("location")!;
  assert.ok(location.startsWith(target.apiUrl));
  const newCreateTime = String(target.meetings.get("jf")!.createTime);
  assert.equal(new URL(location).searchParams.get("createTime"), newCreateTime);
  const landed = await fetch(location, { redirect: "manual" });
  await landed.body?.cancel();
  assert.equal(landed.status, 302); // BBB accepted the join: checksum and createTime match

  // a createTime of some other, ended instance is forwarded as it is, so BBB refuses it
  const stale = await h.text("join", {
    meetingID: "jf",
    fullName: "Gus",
    role: "VIEWER",
    createTime: "12345",
    redirect: "false",
  });
  assert.equal(tag(stale, "messageKey"), "mismatchCreateTimeParam");
});

Deno.test("when the old server comes back: an empty copy is ended after two rounds, a busy one wins the record", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "empty-copy", name: "Empty" });
  const from = holder(h.fakes, "empty-copy");
  // put the second meeting on the same server
  await setServerState(h.kv, 2 - from, "disabled");
  await h.text("create", { meetingID: "busy-copy", name: "Busy" });
  await setServerState(h.kv, 2 - from, "enabled");
  h.fakes[from].addParticipant("busy-copy", { fullName: "Stays" });
  await h.fakes[from].stop();
  await poll(h);
  await poll(h);
  for (const id of ["empty-copy", "busy-copy"]) {
    assert.equal(tag(await h.text("create", { meetingID: id, name: "Again" }), "returncode"), "SUCCESS");
  }
  await h.fakes[from].restart();
  const to = 1 - from; // the fake the failover re-created both meetings on
  let report = await poll(h);
  assert.equal(report.splits, 1, "the empty copy is a split until it has been empty for two rounds");
  assert.equal(report.switched, 1, "only the returning copy has participants: the record switches to it");
  assert.equal((await getMeeting(h.kv, "", "busy-copy")).value!.serverId, from + 1);
  assert.equal(h.fakes[from].meetings.has("empty-copy"), true, "not ended after one empty round");
  report = await poll(h);
  assert.equal(report.staleEnded, 1);
  assert.equal(h.fakes[from].meetings.has("empty-copy"), false);
  assert.equal(h.fakes[to].meetings.has("empty-copy"), true, "the recorded copy stays");
  assert.equal(h.fakes[from].meetings.has("busy-copy"), true, "a copy with participants is never ended");
  report = await poll(h);
  assert.equal(report.staleEnded, 1, "the emptied failover copy of busy-copy is ended after two rounds");
  assert.equal(h.fakes[to].meetings.has("busy-copy"), false);
  assert.equal(report.splits, 0);
  assert.equal(report.adopted, 0);
  await assertLoadsExact(h.kv);
});

Deno.test("load sums stay exact across creates, ends, adoption, failover and rounds", async () => {
  await using h = await setup({ servers: 3 });
  await Promise.all(
    Array.from(
      { length: 12 },
      (_, i) => h.text("create", { meetingID: `mix-${i}`, name: "Mix", load: `${1 + i % 3}` }),
    ),
  );
  h.fakes[2].addMeeting("adopt-me");
  await poll(h);
  await Promise.all([0, 1, 2].map((i) => h.text("end", { meetingID: `mix-${i}` })));
  await h.fakes[0].stop();
  await poll(h);
  await poll(h);
  await Promise.all(
    Array.from({ length: 12 }, (_, i) => h.text("create", { meetingID: `mix-${i}`, name: "Mix" })),
  );
  await poll(h);
  await assertLoadsExact(h.kv);
  const state = (await h.kv.get<ServerRecord>(keys.server(1))).value!.state;
  assert.equal(state, "enabled");
});

Deno.test("a freshly started poller ends no copy before it has polled every server twice", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "restored", name: "Restored" });
  const on = holder(h.fakes, "restored");
  h.fakes[1 - on].addMeeting("restored");
  // As left by an earlier process (or a restored backup): the copy was already seen empty many times.
  await setSeen(h.kv, "", "restored", 2 - on, { kind: "copy", since: 0, emptyRounds: 5, participants: 0 });
  const state = newPollState();
  let report = await poll(h, { state });
  assert.equal(report.staleEnded, 0);
  assert.equal(h.fakes[1 - on].meetings.has("restored"), true);
  report = await poll(h, { state });
  assert.equal(report.staleEnded, 1);
  assert.equal(h.fakes[1 - on].meetings.has("restored"), false);
  assert.equal(h.fakes[on].meetings.has("restored"), true);
});

Deno.test("a server going offline is logged once, whether failed calls or a poll round turned it", async () => {
  const lines: string[] = [];
  const log = {
    debug() {},
    info: (m: string) => lines.push(m),
    warn: (m: string) => lines.push(m),
    error() {},
  };
  await using h = await setup({ servers: 2, log, failoverDelayMs: 60_000, backendTimeoutMs: 300 });
  await h.text("create", { meetingID: "logged", name: "Logged" });
  const on = holder(h.fakes, "logged");
  await h.fakes[on].stop();
  // Two failed calls on the request path turn it offline; later rounds find it offline already.
  await h.text("end", { meetingID: "logged" });
  await h.text("end", { meetingID: "logged" });
  await pollRound({ ...pollDeps(h), log });
  await pollRound({ ...pollDeps(h), log });
  assert.equal(lines.filter((l) => l === "server offline").length, 1);
  await h.fakes[on].restart();
  await pollRound({ ...pollDeps(h), log });
  await pollRound({ ...pollDeps(h), log });
  await pollRound({ ...pollDeps(h), log });
  assert.equal(lines.filter((l) => l === "server online").length, 1);
});
