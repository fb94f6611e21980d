import assert from "node:assert/strict";
import { assertLoadsExact, holder, poll, PUBLIC_URL, setup, sign, tag } from "../../tests/harness.ts";
import { panicCommand } from "../cli/meetings.ts";
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

Deno.test("voiceBridge: bbblb allocates one unique in the cluster, and refuses a given one in use elsewhere", async () => {
  await using h = await setup({ servers: 2 });
  const bridges = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const vb = tag(await h.text("create", { meetingID: `vb-${i}`, name: "VB" }), "voiceBridge")!;
    assert.match(vb, /^\d{5}$/);
    assert.notEqual(vb, "99999");
    bridges.add(vb);
  }
  assert.equal(bridges.size, 20);
  await h.text("create", { meetingID: "dial-a", name: "Dial A", voiceBridge: "55555" });
  const holderA = holder(h.fakes, "dial-a");
  await setServerState(h.kv, holderA + 1, "disabled"); // the next meeting goes to the other server
  const refused = await h.text("create", { meetingID: "dial-b", name: "Dial B", voiceBridge: "55555" });
  assert.equal(tag(refused, "returncode"), "FAILED");
  assert.equal(tag(refused, "key"), "nonUniqueVoiceBridge");
  assert.equal(h.fakes[1 - holderA].meetings.has("dial-b"), false);
  assert.equal((await getMeeting(h.kv, "", "dial-b")).value, null);
  // a repeated create of the holder itself is fine, and after its end the number is free again
  assert.equal(
    tag(await h.text("create", { meetingID: "dial-a", name: "Dial A", voiceBridge: "55555" }), "messageKey"),
    "duplicateWarning",
  );
  await h.text("end", { meetingID: "dial-a" });
  assert.equal(
    tag(await h.text("create", { meetingID: "dial-b", name: "Dial B", voiceBridge: "55555" }), "returncode"),
    "SUCCESS",
  );
});

/** Join through the app as a browser would; returns the redirect and the cookie it set. */
async function browserJoin(h: Awaited<ReturnType<typeof setup>>, query: string) {
  const res = await h.app.request(`/bigbluebutton/api/join?${sign("join", query)}`);
  await res.body?.cancel();
  const cookie = res.headers.get("set-cookie")!.split(";")[0];
  return { res, cookie, setCookie: res.headers.get("set-cookie")! };
}

/** The logoutURL a fake server received when the meeting was created there, as a path bbblb serves. */
function logoutPathAt(fake: { meetings: Map<string, { createParams: URLSearchParams }> }, meetingID: string) {
  const url = fake.meetings.get(meetingID)!.createParams.get("logoutURL")!;
  assert.ok(url.startsWith(PUBLIC_URL));
  return url.slice(PUBLIC_URL.length);
}

Deno.test("rejoin: after a move, the browser's cookie leads to a valid join on the new server, same name and role", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "rj-room", name: "Rejoin", logoutURL: "https://lms.example.org/done" });
  const from = holder(h.fakes, "rj-room");
  const created = await h.text("getMeetingInfo", { meetingID: "rj-room" });
  const { res, setCookie, cookie } = await browserJoin(
    h,
    `meetingID=rj-room&fullName=Zo%C3%AB%20Teacher&role=MODERATOR&userID=u-7&createTime=${
      tag(created, "createTime")
    }`,
  );
  assert.equal(res.status, 302);
  assert.match(setCookie, /HttpOnly/i);
  assert.match(setCookie, /SameSite=Lax/i);
  assert.match(setCookie, /Path=\/bigbluebutton\/api\/rejoin/);
  assert.doesNotMatch(setCookie, /Secure/); // bbblb's URL is http here
  assert.doesNotMatch(decodeURIComponent(setCookie), /MODERATOR|Teacher|u-7/); // sealed, not readable
  const logoutPath = logoutPathAt(h.fakes[from], "rj-room");

  assert.equal(tag(await h.text("move", { meetingID: "rj-room" }), "returncode"), "SUCCESS");
  const back = await h.app.request(logoutPath, { headers: { cookie } });
  assert.equal(back.status, 302);
  const location = back.headers.get("location")!;
  const to = h.fakes[1 - from];
  assert.ok(location.startsWith(`${to.apiUrl}join?`), location);
  const params = new URL(location).searchParams;
  assert.equal(params.get("fullName"), "Zoë Teacher");
  assert.equal(params.get("role"), "MODERATOR");
  assert.equal(params.get("userID"), "u-7");
  assert.equal(params.has("createTime"), false); // the old instance's createTime is not replayed
  const landed = await fetch(location, { redirect: "manual" });
  await landed.body?.cancel();
  assert.equal(landed.status, 302); // the new server accepted the join
  assert.deepEqual(to.meetings.get("rj-room")!.participants.map((p) => [p.fullName, p.role]), [[
    "Zoë Teacher",
    "MODERATOR",
  ]]);
});

Deno.test("rejoin without the cookie after a move shows a page, never a redirect", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "nc-room", name: "No Cookie" });
  const logoutPath = logoutPathAt(h.fakes[holder(h.fakes, "nc-room")], "nc-room");
  await h.text("move", { meetingID: "nc-room" });
  const res = await h.app.request(logoutPath);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("location"), null);
  assert.match(await res.text(), /join it again/);
});

Deno.test("rejoin refuses tampered links, other meetings' cookies and foreign targets", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "own-room", name: "Own", logoutURL: "https://lms.example.org/own" });
  await h.text("create", { meetingID: "other-room", name: "Other" });
  const own = logoutPathAt(h.fakes[holder(h.fakes, "own-room")], "own-room");
  const { cookie: otherCookie } = await browserJoin(
    h,
    "meetingID=other-room&fullName=Mallory&role=MODERATOR",
  );
  await h.text("move", { meetingID: "own-room" });

  // a tampered checksum, a tampered id, a missing checksum: 403, no redirect
  for (
    const path of [
      own.replace(/checksum=(.)/, (_, c: string) => `checksum=${c === "0" ? "1" : "0"}`),
      own.replace("meetingID=", "meetingID=0"),
      own.split("&")[0],
    ]
  ) {
    const res = await h.app.request(path);
    assert.equal(res.status, 403, path);
    assert.equal(res.headers.get("location"), null);
  }
  // another meeting's cookie, even renamed to this meeting's cookie name, does not open a join
  const [, value] = otherCookie.split("=");
  const ownName = (await import("./rejoin.ts")).cookieName("", "own-room");
  const res = await h.app.request(own, { headers: { cookie: `${otherCookie}; ${ownName}=${value}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("location"), null);
  // extra parameters cannot steer the redirect
  const steered = await h.app.request(`${own}&logoutURL=https://evil.example`);
  assert.equal(steered.headers.get("location"), null);
});

Deno.test("rejoin of a meeting that did not move goes to the creator's logoutURL, else the configured one, else a page", async () => {
  await using h = await setup({ servers: 1, logoutUrl: "https://portal.example.org/" });
  await h.text("create", {
    meetingID: "lo-a",
    name: "Room A",
    logoutURL: "https://lms.example.org/course/7",
  });
  await h.text("create", { meetingID: "lo-b", name: "Room B" });
  await h.text("create", { meetingID: "lo-c", name: "Room C", logoutURL: "javascript:alert(1)" });
  const go = async (id: string) =>
    (await h.app.request(logoutPathAt(h.fakes[0], id))).headers.get("location");
  assert.equal(await go("lo-a"), "https://lms.example.org/course/7");
  assert.equal(await go("lo-b"), "https://portal.example.org/");
  assert.equal(await go("lo-c"), "https://portal.example.org/"); // never a javascript: URL
  await using bare = await setup({ servers: 1 });
  await bare.text("create", { meetingID: "lo-d", name: "Room D" });
  const res = await bare.app.request(logoutPathAt(bare.fakes[0], "lo-d"));
  assert.equal(res.status, 200);
  assert.match(await res.text(), /has ended/);
});

Deno.test("getStatistics lists every server with its meetings and the poller's counts", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "st-room", name: "Stats" });
  const fake = h.fakes[holder(h.fakes, "st-room")];
  fake.addParticipant("st-room", { video: true });
  fake.addParticipant("st-room");
  await setServerState(h.kv, 2, "disabled");
  await poll(h);
  const body = await h.text("getStatistics");
  assert.equal(tag(body, "returncode"), "SUCCESS");
  assert.equal([...body.matchAll(/<server>/g)].length, 2); // all states
  const meeting = body.match(/<meeting>(.*?)<\/meeting>/s)![1];
  assert.equal(
    meeting,
    "<meetingID>st-room</meetingID><participantCount>2</participantCount><listenerCount>0</listenerCount>" +
      "<voiceParticipantCount>0</voiceParticipantCount><videoCount>1</videoCount>",
  );
  // answered from the store: a hanging server does not hold it up
  for (const f of h.fakes) f.mode = "hang";
  assert.equal(tag(await h.text("getStatistics"), "returncode"), "SUCCESS");
  for (const f of h.fakes) f.mode = "ok";
});

Deno.test("panic moves 30 meetings off a server; none is lost and the loads add up", async () => {
  await using h = await setup({ servers: 3 });
  for (let i = 0; i < 30; i++) await h.text("create", { meetingID: `pn-${i}`, name: "Panic" });
  const onFirst = [...h.fakes[0].meetings.keys()];
  assert.ok(onFirst.length >= 8);
  const lines: string[] = [];
  await panicCommand(h.ctx, "1", (l) => lines.push(l));
  assert.equal(lines.filter((l) => l.startsWith("moved ")).length, onFirst.length);
  assert.match(lines.at(-1)!, new RegExp(`moved ${onFirst.length} of ${onFirst.length}`));
  assert.equal(h.fakes[0].meetings.size, 0);
  for (let i = 0; i < 30; i++) {
    assert.equal(h.fakes.filter((f) => f.meetings.has(`pn-${i}`)).length, 1, `pn-${i}`);
  }
  const servers = await listServers(h.kv);
  assert.equal(servers[0].state, "panic");
  assert.deepEqual(servers.map((s) => s.loadMilli), [
    0,
    h.fakes[1].meetings.size * 1000,
    h.fakes[2].meetings.size * 1000,
  ]);
  await assertLoadsExact(h.kv);
  // no new meetings go there, and the poller does not lift the panic
  await poll(h);
  await h.text("create", { meetingID: "after-panic", name: "After" });
  assert.equal(h.fakes[0].meetings.size, 0);
  assert.equal((await listServers(h.kv))[0].state, "panic");
});

Deno.test("panic that cannot move everything fails, and running it again finishes what is left", async () => {
  await using h = await setup({ servers: 2, backendTimeoutMs: 300 });
  for (let i = 0; i < 4; i++) await h.text("create", { meetingID: `pa-${i}`, name: "Again" });
  const stranded = h.fakes[0].meetings.size;
  await h.fakes[1].stop();
  const lines: string[] = [];
  await assert.rejects(() => panicCommand(h.ctx, "1", (l) => lines.push(l)), /could not be moved/);
  assert.equal(lines.filter((l) => l.startsWith("could not move")).length, stranded);
  assert.equal(h.fakes[0].meetings.size, stranded); // nothing was ended
  await h.fakes[1].restart();
  await poll(h);
  await poll(h);
  await panicCommand(h.ctx, "1", () => {});
  assert.equal(h.fakes[0].meetings.size, 0);
  assert.equal(h.fakes[1].meetings.size, 4);
  await assertLoadsExact(h.kv);
});

Deno.test("panic of an adopted meeting keeps its name and metadata from the server and says what was not known", async () => {
  await using h = await setup({ servers: 2 });
  h.fakes[0].addMeeting("adopted-room", {
    meetingName: "Physics 101",
    metadata: { course: "phy-101", "bbb-origin": "Moodle" },
    createParams: new URLSearchParams({ name: "Physics 101", meetingID: "adopted-room", duration: "90" }),
  });
  await poll(h);
  assert.equal((await getMeeting(h.kv, "", "adopted-room")).value?.serverId, 1);
  const lines: string[] = [];
  await panicCommand(h.ctx, "1", (l) => lines.push(l));
  assert.match(lines[0], /^moved adopted-room to server 2 \(adopted: .*record, welcome, lock settings/);
  const moved = h.fakes[1].meetings.get("adopted-room")!;
  assert.equal(moved.meetingName, "Physics 101");
  assert.equal(moved.metadata.course, "phy-101");
  assert.equal(moved.metadata["bbb-origin"], "Moodle");
  assert.equal(moved.createParams.get("duration"), "90");
  assert.equal(h.fakes[0].meetings.has("adopted-room"), false);
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
