/**
 * Tests of the meeting calls: create, join, end, getMeetingInfo and isMeetingRunning through the app, against
 * fake BBB servers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { holder, poll, setup, sign, tag } from "../../tests/harness.ts";
import { keys } from "../store/keys.ts";
import { loadOf, loadValue } from "../store/load.ts";
import { listServers, setServerState } from "../store/servers.ts";
import { getMeeting } from "../store/meetings.ts";

Deno.test("create places a meeting on the server with the lowest load and forwards BBB's answer", async () => {
  await using h = await setup();
  await h.kv.set(keys.load(1), loadValue(5000));
  await h.kv.set(keys.load(2), loadValue(1000));
  await h.kv.set(keys.load(3), loadValue(3000));
  const body = await h.text("create", { meetingID: "room-1", name: "Room 1", load: "2" });
  assert.equal(tag(body, "returncode"), "SUCCESS");
  assert.equal(holder(h.fakes, "room-1"), 1);
  assert.equal(tag(body, "internalMeetingID"), h.fakes[1].meetings.get("room-1")!.internalMeetingID);
  assert.equal(loadOf(await h.kv.get(keys.load(2))), 3000);
  // `load` is bbblb's own parameter and is not forwarded
  assert.equal(h.fakes[1].requests.at(-1)!.params.has("load"), false);
});

Deno.test("create keeps BBB's generated passwords for later use", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "pw", name: "pw" });
  const meeting = (await h.kv.get<{ moderatorPW: string; attendeePW: string }>(keys.meeting("", "pw")))
    .value!;
  assert.equal(meeting.moderatorPW, h.fakes[0].meetings.get("pw")!.moderatorPW);
  assert.equal(meeting.attendeePW, h.fakes[0].meetings.get("pw")!.attendeePW);
});

Deno.test("a repeated create goes to the server holding the meeting and BBB answers duplicateWarning", async () => {
  await using h = await setup();
  await h.text("create", { meetingID: "rep", name: "rep" });
  const first = holder(h.fakes, "rep");
  for (let i = 0; i < 5; i++) {
    const body = await h.text("create", { meetingID: "rep", name: "rep" });
    assert.equal(tag(body, "messageKey"), "duplicateWarning");
  }
  assert.equal(h.fakes.filter((f) => f.meetings.has("rep")).length, 1);
  assert.equal(holder(h.fakes, "rep"), first);
  const loads = (await listServers(h.kv)).map((s) => s.loadMilli);
  assert.deepEqual(loads.toSorted(), [0, 0, 1000]);
});

Deno.test("20 concurrent creates of one meetingID land on one server", async () => {
  await using h = await setup();
  const bodies = await Promise.all(
    Array.from({ length: 20 }, () => h.text("create", { meetingID: "rush", name: "Rush" })),
  );
  assert.equal(bodies.filter((b) => tag(b, "returncode") === "SUCCESS").length, 20);
  assert.equal(h.fakes.filter((f) => f.meetings.has("rush")).length, 1);
  assert.equal(new Set(bodies.map((b) => tag(b, "internalMeetingID"))).size, 1);
  const total = (await listServers(h.kv)).reduce((n, s) => n + s.loadMilli, 0);
  assert.equal(total, 1000);
});

Deno.test("a burst of 30 distinct creates spreads evenly over three servers", async () => {
  await using h = await setup();
  await Promise.all(
    Array.from({ length: 30 }, (_, i) => h.text("create", { meetingID: `burst-${i}`, name: "bb" })),
  );
  const counts = h.fakes.map((f) => f.meetings.size);
  assert.equal(counts.reduce((a, b) => a + b), 30);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `uneven: ${counts}`);
  assert.deepEqual((await listServers(h.kv)).map((s) => s.loadMilli), counts.map((c) => c * 1000));
});

Deno.test("create with a bad load is FAILED validationError and reaches no server", async () => {
  await using h = await setup({ servers: 1 });
  for (const load of ["abc", "-5", "0", "", "1e3", "NaN", "Infinity", "0.0001", "99999999"]) {
    const body = await h.text("create", { meetingID: "ll", name: "ll", load });
    assert.equal(tag(body, "messageKey"), "validationError", `load=${load}`);
    assert.match(tag(body, "message")!, /load/);
  }
  assert.equal(h.fakes[0].requests.length, 0);
  const ok = await h.text("create", { meetingID: "ll", name: "ll", load: "2.5" });
  assert.equal(tag(ok, "returncode"), "SUCCESS");
  assert.equal(loadOf(await h.kv.get(keys.load(1))), 2500);
});

Deno.test("a FAILED create answer from BBB is passed through and releases the claim and its load", async () => {
  await using h = await setup({ servers: 1 });
  const body = await h.text("create", { meetingID: "xx", name: "" }); // the fake requires a name
  assert.equal(tag(body, "returncode"), "FAILED");
  assert.equal(tag(body, "messageKey"), "validationError");
  assert.equal((await h.kv.get(keys.meeting("", "xx"))).value, null);
  assert.equal(loadOf(await h.kv.get(keys.load(1))), 0);
});

Deno.test("idNotUnique on a repeated create never releases the running meeting", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "uu", name: "uu", moderatorPW: "mod1", attendeePW: "att1" });
  const body = await h.text("create", {
    meetingID: "uu",
    name: "uu",
    moderatorPW: "other",
    attendeePW: "att1",
  });
  assert.equal(tag(body, "messageKey"), "idNotUnique");
  assert.equal((await h.kv.get<{ status: string }>(keys.meeting("", "uu"))).value?.status, "running");
  assert.equal(loadOf(await h.kv.get(keys.load(1))), 1000);
});

Deno.test("create skips an unreachable server, takes it out of placement and uses the next", async () => {
  await using h = await setup({ servers: 2 });
  await h.kv.set(keys.load(2), loadValue(5000)); // server 1 looks best
  await h.fakes[0].stop();
  const body = await h.text("create", { meetingID: "fo", name: "fo" });
  assert.equal(tag(body, "returncode"), "SUCCESS");
  assert.equal(holder(h.fakes, "fo"), 1);
  const [s1] = await listServers(h.kv);
  assert.equal(s1.placeable, false); // out of placement until its next good poll
  assert.equal(s1.online, true); // offline only after the fail threshold (2)
  assert.equal(s1.loadMilli, 0);
  assert.match(s1.health.lastError!, /cannot reach/);
});

Deno.test("create answers serverUnavailable when no server works, and leaves no claim behind", async () => {
  // Failover delay 0: the hanging server is gone as soon as it is offline, so its claim in doubt is released.
  await using h = await setup({ servers: 2, backendTimeoutMs: 300, createTimeoutMs: 300 });
  await h.fakes[0].stop();
  h.fakes[1].mode = "hang";
  const body = await h.text("create", { meetingID: "none", name: "none" });
  assert.equal(tag(body, "messageKey"), "serverUnavailable");
  assert.equal((await h.kv.get(keys.meeting("", "none"))).value, null);
  assert.deepEqual((await listServers(h.kv)).map((s) => [s.loadMilli, s.placeable]), [[0, false], [
    0,
    false,
  ]]);
  // with every server out of placement, create fails at once without calling anyone
  const again = await h.text("create", { meetingID: "none2", name: "none" });
  assert.equal(tag(again, "messageKey"), "serverUnavailable");
});

Deno.test("create answers serverUnavailable when no server is enabled", async () => {
  await using h = await setup({ servers: 2 });
  await setServerState(h.kv, 1, "disabled");
  await setServerState(h.kv, 2, "cordoned");
  assert.equal(
    tag(await h.text("create", { meetingID: "dd", name: "dd" }), "messageKey"),
    "serverUnavailable",
  );
});

Deno.test("a garbage or HTTP 500 answer fails that server only", async () => {
  await using h = await setup({ servers: 3 });
  h.fakes[0].mode = "garbage";
  h.fakes[1].mode = "http500";
  for (let i = 0; i < 4; i++) {
    assert.equal(tag(await h.text("create", { meetingID: `g${i}`, name: "gg" }), "returncode"), "SUCCESS");
  }
  assert.equal(h.fakes[2].meetings.size, 4);
  assert.deepEqual((await listServers(h.kv)).map((s) => s.placeable), [false, false, true]);
});

Deno.test("join answers 302 to the meeting's server, re-signed, with the client's parameters unchanged", async () => {
  await using h = await setup();
  await h.text("create", { meetingID: "jj", name: "jj" });
  const fake = h.fakes[holder(h.fakes, "jj")];
  const query = "meetingID=jj&fullName=Ada%20Lovelace&role=MODERATOR&userdata-bbb_x=1";
  const res = await h.app.request(`/bigbluebutton/api/join?${sign("join", query)}`);
  assert.equal(res.status, 302);
  const location = res.headers.get("location")!;
  assert.ok(location.startsWith(`${fake.apiUrl}join?${query}&checksum=`), location);
  const followed = await fetch(location, { redirect: "manual" });
  await followed.body?.cancel();
  assert.equal(followed.status, 302); // the fake accepted bbblb's checksum and sent the browser on
  assert.equal(fake.meetings.get("jj")!.participants[0].fullName, "Ada Lovelace");
});

Deno.test("join with redirect=false returns the server's XML", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "jx", name: "jx" });
  const body = await h.text("join", { meetingID: "jx", fullName: "B", role: "VIEWER", redirect: "false" });
  assert.equal(tag(body, "messageKey"), "successfullyJoined");
  assert.ok(tag(body, "session_token"));
});

Deno.test("join of an unknown meeting is FAILED notFound, and join by POST is refused", async () => {
  await using h = await setup({ servers: 1 });
  assert.equal(tag(await h.text("join", { meetingID: "nope", fullName: "x" }), "messageKey"), "notFound");
  await h.text("create", { meetingID: "pp", name: "pp" });
  const res = await h.app.request("/bigbluebutton/api/join", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: sign("join", "meetingID=pp&fullName=x&role=VIEWER"),
  });
  assert.equal(tag(await res.text(), "messageKey"), "unsupportedRequest");
});

Deno.test("end frees the meeting and its load at once; ending again is notFound", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "ee", name: "ee", load: "3" });
  const body = await h.text("end", { meetingID: "ee" });
  assert.equal(tag(body, "messageKey"), "sentEndMeetingRequest");
  assert.deepEqual((await listServers(h.kv)).map((s) => s.loadMilli), [0, 0]);
  assert.equal(tag(await h.text("end", { meetingID: "ee" }), "messageKey"), "notFound");
  // a new create after the end may land anywhere and is a new instance
  assert.equal(tag(await h.text("create", { meetingID: "ee", name: "ee" }), "messageKey"), "");
});

Deno.test("end of a meeting its server no longer knows frees it too", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "gone", name: "gg" });
  h.fakes[0].meetings.delete("gone");
  assert.equal(tag(await h.text("end", { meetingID: "gone" }), "messageKey"), "notFound");
  assert.equal(loadOf(await h.kv.get(keys.load(1))), 0);
});

Deno.test("getMeetingInfo and isMeetingRunning are answered by the meeting's server", async () => {
  await using h = await setup();
  await h.text("create", { meetingID: "ii", name: "Info" });
  h.fakes[holder(h.fakes, "ii")].addParticipant("ii", { fullName: "Z" });
  const info = await h.text("getMeetingInfo", { meetingID: "ii" });
  assert.equal(tag(info, "meetingName"), "Info");
  assert.equal(tag(info, "participantCount"), "1");
  assert.equal(tag(await h.text("isMeetingRunning", { meetingID: "ii" }), "running"), "true");
});

Deno.test("an unknown meeting: getMeetingInfo is notFound, isMeetingRunning is running false", async () => {
  await using h = await setup({ servers: 1 });
  assert.equal(tag(await h.text("getMeetingInfo", { meetingID: "uu" }), "messageKey"), "notFound");
  const running = await h.text("isMeetingRunning", { meetingID: "uu" });
  assert.equal(tag(running, "returncode"), "SUCCESS");
  assert.equal(tag(running, "running"), "false");
  assert.equal(h.fakes[0].requests.length, 0);
});

Deno.test("meetings on a disabled server keep working: join, info and end", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "dis", name: "dd" });
  await setServerState(h.kv, 1, "disabled");
  const res = await h.call("join", { meetingID: "dis", fullName: "x", role: "VIEWER" });
  await res.body?.cancel();
  assert.equal(res.status, 302);
  assert.equal(tag(await h.text("getMeetingInfo", { meetingID: "dis" }), "returncode"), "SUCCESS");
  assert.equal(tag(await h.text("end", { meetingID: "dis" }), "returncode"), "SUCCESS");
});

Deno.test("the meeting's server unreachable: serverUnavailable, and the meeting is kept", async () => {
  await using h = await setup({ servers: 1, backendTimeoutMs: 300 });
  await h.text("create", { meetingID: "kk", name: "kk" });
  await h.fakes[0].stop();
  assert.equal(tag(await h.text("end", { meetingID: "kk" }), "messageKey"), "serverUnavailable");
  assert.equal(tag(await h.text("getMeetingInfo", { meetingID: "kk" }), "messageKey"), "serverUnavailable");
  assert.equal((await h.kv.get<{ status: string }>(keys.meeting("", "kk"))).value?.status, "running");
});

Deno.test("create with an XML body forwards the slides and their content type", async () => {
  await using h = await setup({ servers: 1 });
  const xml = '<modules><module name="presentation"><document url="https://x/y.pdf"/></module></modules>';
  const res = await h.app.request(`/bigbluebutton/api/create?${sign("create", "meetingID=ss&name=SS")}`, {
    method: "POST",
    headers: { "content-type": "application/xml" },
    body: xml,
  });
  assert.equal(tag(await res.text(), "returncode"), "SUCCESS");
  const forwarded = h.fakes[0].requests.at(-1)!;
  assert.equal(forwarded.body, xml);
  assert.equal(forwarded.contentType, "application/xml");
});

Deno.test("creates racing ends never leave a meeting running on BBB that bbblb has forgotten", async () => {
  await using h = await setup({ servers: 3 });
  for (let i = 0; i < 30; i++) {
    await Promise.all([
      h.text("create", { meetingID: "race-room", name: "Race" }),
      h.text("end", { meetingID: "race-room" }),
    ]);
  }
  await h.text("create", { meetingID: "race-room", name: "Race" });
  const holders = h.fakes.filter((f) => f.meetings.has("race-room"));
  assert.equal(holders.length, 1);
  const m = (await h.kv.get<{ serverId: number }>(keys.meeting("", "race-room"))).value!;
  assert.equal(h.fakes[m.serverId - 1].meetings.has("race-room"), true);
});

Deno.test("a server that refuses bbblb's checksum (wrong secret) is skipped, never blamed on the client", async () => {
  await using h = await setup({ servers: 2 });
  h.fakes[0].secret = "rotated-on-the-server";
  for (let i = 0; i < 6; i++) {
    assert.equal(
      tag(await h.text("create", { meetingID: `sk-${i}`, name: "Skip" }), "returncode"),
      "SUCCESS",
    );
  }
  assert.equal(h.fakes[1].meetings.size, 6);
  const [s1] = await listServers(h.kv);
  assert.equal(s1.placeable, false);
  assert.match(s1.health.lastError!, /secret/);
});

Deno.test("a voiceBridge with surrounding spaces is the same dial-in number and is refused while in use", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "vb-aa", name: "A room", voiceBridge: "54321" });
  await setServerState(h.kv, holder(h.fakes, "vb-aa") + 1, "disabled");
  const body = await h.text("create", { meetingID: "vb-bb", name: "B room", voiceBridge: " 54321 " });
  assert.equal(tag(body, "key"), "nonUniqueVoiceBridge");
  await h.text("end", { meetingID: "vb-aa" });
  assert.deepEqual(await Array.fromAsync(h.kv.list({ prefix: ["voice_bridge"] })), []);
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

Deno.test("a refused join with errorRedirectUrl is redirected there with BBB's errors parameter", async () => {
  await using h = await setup({ servers: 1 });
  const res = await h.call("join", {
    meetingID: "nope",
    fullName: "A",
    role: "VIEWER",
    errorRedirectUrl: "https://lms.example.org/bbb-error?course=7",
  });
  assert.equal(res.status, 302);
  const to = new URL(res.headers.get("location")!);
  assert.equal(to.origin + to.pathname, "https://lms.example.org/bbb-error");
  assert.equal(to.searchParams.get("course"), "7");
  const errors = JSON.parse(to.searchParams.get("errors")!);
  assert.equal(errors[0].key, "notFound");
  // Not for redirect=false, and never to anything but http(s).
  const xml = await h.text("join", {
    meetingID: "nope",
    fullName: "A",
    role: "VIEWER",
    redirect: "false",
    errorRedirectUrl: "https://lms.example.org/",
  });
  assert.equal(tag(xml, "messageKey"), "notFound");
  const js = await h.call("join", {
    meetingID: "nope",
    fullName: "A",
    role: "VIEWER",
    errorRedirectUrl: "javascript:alert(1)",
  });
  assert.equal(js.status, 200);
});

Deno.test("errorRedirectUrl=logout sends a refused join to the creator's logoutURL, else to BBBLB_LOGOUT_URL", async () => {
  await using h = await setup({ servers: 1, backendTimeoutMs: 300, failoverDelayMs: 60_000 });
  const created = await h.text("create", {
    meetingID: "with-logout",
    name: "Room",
    logoutURL: "https://lms.example.org/course/7",
  });
  assert.equal(tag(created, "returncode"), "SUCCESS", created);
  // Its server stops answering and goes offline (not gone yet): a join is refused with serverUnavailable.
  await h.fakes[0].stop();
  await poll(h);
  await poll(h);
  const res = await h.call("join", {
    meetingID: "with-logout",
    fullName: "A",
    role: "VIEWER",
    errorRedirectUrl: "logout",
  });
  assert.equal(res.status, 302);
  const to = new URL(res.headers.get("location")!);
  assert.equal(to.origin + to.pathname, "https://lms.example.org/course/7");
  assert.equal(JSON.parse(to.searchParams.get("errors")!)[0].key, "serverUnavailable");
  // An unknown meeting has no creator: without BBBLB_LOGOUT_URL the FAILED answer is given as XML.
  const unknown = await h.call("join", {
    meetingID: "nope",
    fullName: "A",
    role: "VIEWER",
    errorRedirectUrl: "logout",
  });
  assert.equal(unknown.status, 200);
  assert.equal(tag(await unknown.text(), "messageKey"), "notFound");
});

Deno.test("errorRedirectUrl=logout of an unknown meeting goes to BBBLB_LOGOUT_URL when it is set", async () => {
  await using h = await setup({ servers: 1, logoutUrl: "https://lb.example.org/bye" });
  const res = await h.call("join", {
    meetingID: "nope",
    fullName: "A",
    role: "VIEWER",
    errorRedirectUrl: "logout",
  });
  assert.equal(res.status, 302);
  const to = new URL(res.headers.get("location")!);
  assert.equal(to.origin + to.pathname, "https://lb.example.org/bye");
  assert.equal(JSON.parse(to.searchParams.get("errors")!)[0].key, "notFound");
});

Deno.test("meta_bbb-meeting-size-hint is the declared load when load is absent, and reaches BBB as metadata", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", { meetingID: "hint", name: "Hint", "meta_bbb-meeting-size-hint": "40" });
  assert.equal(loadOf(await h.kv.get(keys.load(1))), 40_000);
  assert.equal(h.fakes[0].meetings.get("hint")!.metadata["bbb-meeting-size-hint"], "40");
  await h.text("create", { meetingID: "both", name: "Both", load: "2", "meta_BBB-meeting-size-hint": "40" });
  assert.equal(loadOf(await h.kv.get(keys.load(1))), 42_000, "load wins over the hint");
  const odd = await h.text("create", { meetingID: "odd", name: "Odd", "meta_bbb-meeting-size-hint": "big" });
  assert.equal(tag(odd, "returncode"), "SUCCESS", "a hint that is not a number is ignored, not refused");
  assert.equal(loadOf(await h.kv.get(keys.load(1))), 43_000);
});

Deno.test("BBB 3.0 and 4.0 create and join parameters reach the server unchanged", async () => {
  await using h = await setup({ servers: 1 });
  const created: Record<string, string> = {
    meetingID: "v4",
    name: "New params",
    pluginManifests: '[{"url":"https://plugins.example.org/%%BBB_MAIN_VERSION%%/manifest.json"}]',
    pluginManifestsFetchUrl: "https://plugins.example.org/list.json?meeting=%%MEETING_ID%%",
    clientSettingsOverrideJsonUrl: "https://cfg.example.org/settings.json",
    sharedNotesEditor: "pad",
    sharedNotesInitialContentMarkdown: "# Agenda\n- one & two",
    lockSettingsPresenterPolicy: "freeForAll",
    meetingLayout: "UNIFIED_LAYOUT",
    disabledFeatures: "multiFunctionalMode,pinChatMessage,privateChat",
    requireUserConsentBeforeUnmuting: "true",
    notifyRecordingAppend: "true",
    maxPinnedCameras: "3",
    cameraBridge: "livekit",
    "meta_plugin_x-setting": "on",
  };
  assert.equal(tag(await h.text("create", created), "returncode"), "SUCCESS");
  const params = h.fakes[0].requests.find((r) => r.call === "create")!.params;
  for (const [k, v] of Object.entries(created)) assert.equal(params.get(k), v, k);
  const join: Record<string, string> = {
    meetingID: "v4",
    fullName: "Ann Example",
    role: "VIEWER",
    bot: "true",
    firstName: "Ann",
    lastName: "Example",
    webcamBackgroundURL: "https://img.example.org/bg.png",
    auth: "true",
    existingUserID: "u-17",
    replaceSessionToken: "abcdefghijklmnop",
    sessionName: "tablet",
    enforceLayout: "CAMERAS_ONLY",
  };
  const res = await h.call("join", join);
  assert.equal(res.status, 302);
  const sent = new URL(res.headers.get("location")!).searchParams;
  for (const [k, v] of Object.entries(join)) assert.equal(sent.get(k), v, k);
});

Deno.test("a create's XML body with several modules is forwarded byte for byte with its content type", async () => {
  await using h = await setup({ servers: 1 });
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n<modules>\r\n' +
    '  <module name="presentation"><document url="https://s.example.org/a.pdf" filename="a.pdf" ' +
    'downloadable="true"/><document name="b.pdf">JVBERi0xLjQK</document></module>\n' +
    '  <module name="clientSettingsOverride"><![CDATA[{"public":{"app":{"appName":"Ünïcode & <x>"}}}]]></module>\n' +
    '  <module name="sharedNotesInitialContentMarkdown"><![CDATA[# Notes\n\t* ä]]></module>\n' +
    '  <module name="sharedNotesInitialContentJson"><![CDATA[{"ops":[]}]]></module>\n</modules>\n';
  const query = sign("create", "meetingID=xml-mods&name=Modules");
  const res = await h.app.request(`/bigbluebutton/api/create?${query}`, {
    method: "POST",
    headers: { "content-type": "text/xml; charset=UTF-8" },
    body: new TextEncoder().encode(body),
  });
  assert.equal(tag(await res.text(), "returncode"), "SUCCESS");
  const received = h.fakes[0].requests.find((r) => r.call === "create")!;
  assert.equal(received.body, body);
  assert.equal(received.contentType, "text/xml; charset=UTF-8");
});
