import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { holder, poll, PUBLIC_URL, SECRET, setup, sign, tag } from "../../tests/harness.ts";
import { FakeBbb } from "../../tests/fake_bbb.ts";
import { addServer, updateServer } from "../store/servers.ts";

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");
const recordIDs = (xml: string) => [...xml.matchAll(/<recordID>([^<]*)<\/recordID>/g)].map((m) => m[1]);

Deno.test("getRecordings finds every instance of a meetingID on every server, in start order, each once", async () => {
  await using h = await setup({ servers: 3 });
  // a recording made before bbblb existed, one after a move to another server, and another meeting's
  const before = h.fakes[0].addRecording("lecture-9", { startTime: 1_000 });
  const after = h.fakes[1].addRecording("lecture-9", { startTime: 3_000 });
  const middle = h.fakes[2].addRecording("lecture-9", { startTime: 2_000 });
  h.fakes[2].addRecording("other-room", { startTime: 1_500 });
  const body = await h.text("getRecordings", { meetingID: "lecture-9" });
  assert.equal(tag(body, "returncode"), "SUCCESS");
  assert.deepEqual(recordIDs(body), [before.recordID, middle.recordID, after.recordID]);
  // every server matched by meetingID itself: the filter went to each of them
  for (const f of h.fakes) assert.equal(f.requests.at(-1)!.params.get("meetingID"), "lecture-9");
  const all = await h.text("getRecordings");
  assert.equal(recordIDs(all).length, 4);
});

Deno.test("getRecordings passes state and meta filters to the servers and never widens an unknown meetingID", async () => {
  await using h = await setup({ servers: 2 });
  // distinct start times: recordings of the same meetingID started in the same millisecond share a recordID
  h.fakes[0].addRecording("room-a", { startTime: 1000, metadata: { "gl-listed": "true" } });
  h.fakes[1].addRecording("room-a", {
    startTime: 2000,
    metadata: { "gl-listed": "false" },
    state: "unpublished",
    published: false,
  });
  h.fakes[1].addRecording("room-b", { startTime: 3000, state: "deleted", published: false });
  assert.equal(
    recordIDs(await h.text("getRecordings", { meetingID: "room-a", "meta_gl-listed": "true" })).length,
    1,
  );
  assert.equal(recordIDs(await h.text("getRecordings", { state: "unpublished" })).length, 1);
  assert.equal(recordIDs(await h.text("getRecordings")).length, 2); // default: published and unpublished
  assert.equal(recordIDs(await h.text("getRecordings", { state: "any" })).length, 3);
  assert.equal(recordIDs(await h.text("getRecordings", { state: "deleted" })).length, 1);
  const none = await h.text("getRecordings", { meetingID: "never-heard-of-it" });
  assert.equal(tag(none, "returncode"), "SUCCESS");
  assert.equal(tag(none, "messageKey"), "noRecordings");
  assert.deepEqual(recordIDs(none), []);
});

Deno.test("getRecordings by recordID prefix", async () => {
  await using h = await setup({ servers: 2 });
  const r = h.fakes[1].addRecording("room-p");
  h.fakes[0].addRecording("room-q");
  assert.deepEqual(recordIDs(await h.text("getRecordings", { recordID: sha1("room-p") })), [r.recordID]);
  assert.deepEqual(recordIDs(await h.text("getRecordings", { recordID: r.recordID })), [r.recordID]);
});

Deno.test("a failing server leaves its recordings out; every server failing is serverUnavailable", async () => {
  await using h = await setup({ servers: 2, backendTimeoutMs: 300 });
  h.fakes[0].addRecording("room-f", { startTime: 1000 });
  h.fakes[1].addRecording("room-f", { startTime: 2000 });
  h.fakes[1].mode = "hang";
  assert.equal(recordIDs(await h.text("getRecordings", { meetingID: "room-f" })).length, 1);
  h.fakes[0].mode = "http500";
  assert.equal(
    tag(await h.text("getRecordings", { meetingID: "room-f" }), "messageKey"),
    "serverUnavailable",
  );
});

Deno.test("1,000 recordings over two servers page stably with offset and limit, as BBB 2.6+", async () => {
  await using h = await setup({ servers: 2 });
  const expected: string[] = [];
  for (let i = 0; i < 1000; i++) {
    expected.push(h.fakes[i % 2].addRecording(`bulk-${i}`, { startTime: 10_000 + i }).recordID);
  }
  const seen: string[] = [];
  for (let offset = 0; offset < 1000; offset += 100) {
    const body = await h.text("getRecordings", { offset: String(offset), limit: "100" });
    seen.push(...recordIDs(body));
    assert.equal(tag(body, "totalElements"), "1000");
  }
  assert.deepEqual(seen, expected);
  assert.equal(recordIDs(await h.text("getRecordings", { limit: "500" })).length, 100); // clamped to 100
  assert.equal(recordIDs(await h.text("getRecordings", { limit: "0", offset: "-3" })).length, 1); // clamped to 1
  assert.equal(recordIDs(await h.text("getRecordings", { limit: "abc" })).length, 1000); // no paging
  const past = await h.text("getRecordings", { limit: "10", offset: "5000" });
  assert.equal(tag(past, "messageKey"), "noRecordings");
  assert.equal(tag(past, "empty"), "true");
});

Deno.test("publish, update and delete go to the server holding each recordID, one call per server", async () => {
  await using h = await setup({ servers: 3 });
  const a = h.fakes[0].addRecording("room-x", { state: "unpublished", published: false });
  const b = h.fakes[1].addRecording("room-y", { state: "unpublished", published: false });
  const ids = `${a.recordID},${b.recordID},unknown-id`;
  const published = await h.text("publishRecordings", { recordID: ids, publish: "true" });
  assert.equal(tag(published, "published"), "true");
  assert.equal(a.state, "published");
  assert.equal(b.state, "published");
  const publishCalls = (f: FakeBbb) => f.requests.filter((r) => r.call === "publishRecordings");
  assert.equal(publishCalls(h.fakes[0])[0].params.get("recordID"), a.recordID);
  assert.equal(publishCalls(h.fakes[1])[0].params.get("recordID"), b.recordID);
  assert.equal(publishCalls(h.fakes[2]).length, 0);

  // the IDs were found by asking once; now they are remembered
  const asked = h.fakes[2].requests.length;
  assert.equal(
    tag(await h.text("updateRecordings", { recordID: a.recordID, "meta_gl-name": "New" }), "updated"),
    "true",
  );
  assert.equal(a.metadata["gl-name"], "New");
  assert.equal(h.fakes[2].requests.length, asked);
  assert.equal(tag(await h.text("deleteRecordings", { recordID: b.recordID }), "deleted"), "true");
  assert.equal(b.state, "deleted");
});

Deno.test("recording calls: notFound when no ID is known, missing parameters as BBB", async () => {
  await using h = await setup({ servers: 2 });
  assert.equal(
    tag(await h.text("publishRecordings", { recordID: "nope", publish: "true" }), "messageKey"),
    "notFound",
  );
  assert.equal(
    tag(await h.text("deleteRecordings", { recordID: "nope-a,nope-b" }), "messageKey"),
    "notFound",
  );
  assert.equal(tag(await h.text("deleteRecordings", {}), "messageKey"), "missingParamRecordID");
  assert.equal(
    tag(await h.text("publishRecordings", { recordID: "x" }), "messageKey"),
    "missingParamPublish",
  );
});

Deno.test("the recordings of a meeting placed through bbblb are routed without asking every server", async () => {
  await using h = await setup({ servers: 3 });
  const created = await h.text("create", { meetingID: "placed-room", name: "Placed", record: "true" });
  const fake = h.fakes[holder(h.fakes, "placed-room")];
  const rec = fake.addRecording("placed-room", { internalMeetingID: tag(created, "internalMeetingID")! });
  const before = h.fakes.map((f) => f.requests.length);
  assert.equal(tag(await h.text("deleteRecordings", { recordID: rec.recordID }), "deleted"), "true");
  const calls = h.fakes.map((f, i) => f.requests.length - before[i]);
  assert.deepEqual(calls.filter((n) => n > 0), [1]); // only the holder was called
});

Deno.test("text tracks: get is routed and answered in JSON, put forwards the multipart upload intact", async () => {
  await using h = await setup({ servers: 2 });
  const rec = h.fakes[1].addRecording("room-tt");
  const got = await h.call("getRecordingTextTracks", { recordID: rec.recordID });
  assert.match(got.headers.get("content-type")!, /json/);
  assert.equal((await got.json()).response.returncode, "SUCCESS");
  const unknown = await (await h.call("getRecordingTextTracks", { recordID: "nope" })).json();
  assert.equal(unknown.response.messageKey, "noRecordings");

  const query = `recordID=${rec.recordID}&kind=subtitles&lang=de-DE&label=Deutsch`;
  const form = new FormData();
  form.append("file", new File(["WEBVTT\n\n00:00.000 --> 00:01.000\nHallo"], "de.vtt", { type: "text/vtt" }));
  const put = await h.app.request(
    `/bigbluebutton/api/putRecordingTextTrack?${sign("putRecordingTextTrack", query)}`,
    {
      method: "POST",
      body: form,
    },
  );
  assert.equal((await put.json()).response.returncode, "SUCCESS");
  assert.equal(h.fakes[1].uploads.length, 1);
  assert.match(h.fakes[1].uploads[0].content, /Hallo/);
  assert.equal(h.fakes[1].uploads[0].fileName, "de.vtt");
  // a wrong checksum on a JSON call is a JSON failure
  const bad = await h.app.request(
    `/bigbluebutton/api/getRecordingTextTracks?recordID=x&checksum=${"0".repeat(40)}`,
  );
  assert.equal((await bad.json()).response.messageKey, "checksumError");
});

Deno.test("insertDocument and sendChatMessage go to the meeting's server with their bodies", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "doc-room", name: "Docs" });
  const fake = h.fakes[holder(h.fakes, "doc-room")];
  const xml =
    '<modules><module name="presentation"><document url="https://x.example/a.pdf" filename="a.pdf"/></module></modules>';
  const res = await h.app.request(
    `/bigbluebutton/api/insertDocument?${sign("insertDocument", "meetingID=doc-room")}`,
    {
      method: "POST",
      headers: { "content-type": "application/xml" },
      body: xml,
    },
  );
  assert.equal(tag(await res.text(), "returncode"), "SUCCESS");
  assert.deepEqual(fake.meetings.get("doc-room")!.documents, [xml]);
  assert.equal(
    tag(await h.text("sendChatMessage", { meetingID: "doc-room", message: "Hello all" }), "returncode"),
    "SUCCESS",
  );
  assert.deepEqual(fake.meetings.get("doc-room")!.chat, [{ userName: "System", message: "Hello all" }]);
  assert.equal(
    tag(await h.text("sendChatMessage", { meetingID: "no-room", message: "x" }), "messageKey"),
    "notFound",
  );
});

Deno.test("session-token calls and calls BBB removed get a clear unsupportedRequest", async () => {
  await using h = await setup({ servers: 1 });
  for (
    const call of [
      "enter",
      "feedback",
      "getDefaultConfigXML",
      "setConfigXML",
    ]
  ) {
    const body = await (await h.app.request(`/bigbluebutton/api/${call}?sessionToken=abc`)).text();
    assert.equal(tag(body, "messageKey"), "unsupportedRequest", call);
    assert.match(tag(body, "message")!, call.endsWith("ConfigXML") ? /removed/ : /server/, call);
  }
  // BBB answers these two in JSON (3.0+), so bbblb's refusal is JSON too.
  for (const call of ["getJoinUrl", "learningDashboard"]) {
    const res = await h.app.request(`/bigbluebutton/api/${call}?sessionToken=abc`);
    assert.match(res.headers.get("content-type")!, /json/, call);
    const { response } = await res.json();
    assert.equal(response.returncode, "FAILED", call);
    assert.equal(response.messageKey, "unsupportedRequest", call);
    assert.match(response.message, /server/, call);
  }
  assert.equal(h.fakes[0].requests.length, 0);
});

Deno.test("hooks: created on every server, listed with bbblb's ids, idempotent, destroyed everywhere", async () => {
  await using h = await setup({ servers: 2 });
  const created = await h.text("hooks/create", { callbackURL: "https://lms.example.org/hook?a=1&b=2" });
  assert.equal(tag(created, "returncode"), "SUCCESS");
  const hookID = tag(created, "hookID")!;
  // the servers call bbblb's relay for this hook, which passes events on to the front-end's URL
  for (const f of h.fakes) {
    const registered = [...f.hooks.values()][0].callbackURL;
    assert.ok(registered.startsWith(`${PUBLIC_URL}/bigbluebutton/callback/hook/${hookID}/`), registered);
  }
  // the webhooks module is called with SHA-1 checksums (the 2.6 module accepts nothing else)
  for (const f of h.fakes) assert.equal(f.requests.at(-1)!.rawQuery.split("checksum=")[1].length, 40);
  const again = await h.text("hooks/create", { callbackURL: "https://lms.example.org/hook?a=1&b=2" });
  assert.equal(tag(again, "hookID"), hookID);
  assert.equal(tag(again, "messageKey"), "duplicateWarning");
  const listed = await h.text("hooks/list");
  assert.match(
    listed,
    /<callbackURL><!\[CDATA\[https:\/\/lms.example.org\/hook\?a=1&b=2\]\]><\/callbackURL>/,
  );
  assert.equal(tag(listed, "hookID"), hookID);

  // a server added later, and one that was down, get it at the next poll
  const late = await FakeBbb.start({ secret: "late-secret" });
  try {
    await addServer(h.kv, {
      id: 9,
      apiUrl: late.apiUrl,
      secret: late.secret,
      weight: 1,
      state: "enabled",
      checksum: "sha256",
      addedAt: 0,
    });
    await poll(h);
    assert.equal(late.hooks.size, 1);
    assert.equal(tag(await h.text("hooks/destroy", { hookID }), "removed"), "true");
    for (const f of [...h.fakes, late]) assert.equal(f.hooks.size, 0);
  } finally {
    await late.close();
  }
  assert.equal(tag(await h.text("hooks/destroy", { hookID }), "messageKey"), "destroyMissingHook");
  assert.equal(tag(await h.text("hooks/destroy", {}), "messageKey"), "missingParamHookID");
  assert.equal(tag(await h.text("hooks/create", {}), "messageKey"), "missingParamCallbackURL");
});

Deno.test("a server whose --hooks-checksum says so gets its webhook calls signed with that algorithm", async () => {
  await using h = await setup({ servers: 2 });
  await updateServer(h.kv, 2, { hooksChecksum: "sha512" });
  const created = await h.text("hooks/create", { callbackURL: "https://lms.example.org/hook" });
  assert.equal(tag(created, "returncode"), "SUCCESS");
  const checksumLength = (f: FakeBbb) =>
    f.requests.filter((r) => r.call === "hooks/create").at(-1)!.rawQuery.split("checksum=")[1].length;
  assert.equal(checksumLength(h.fakes[0]), 40, "server 1 keeps SHA-1");
  assert.equal(checksumLength(h.fakes[1]), 128, "server 2 is signed with SHA-512");
  assert.equal(h.fakes[1].hooks.size, 1);
});

Deno.test("hook events are verified against the server's secret and passed on re-signed with the API secret", async () => {
  await using h = await setup({ servers: 1 });
  const received: { url: string; body: string }[] = [];
  const front = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    received.push({ url: req.url, body: await req.text() });
    return new Response("ok");
  });
  try {
    const callbackURL = `http://127.0.0.1:${front.addr.port}/hooks?room=1`;
    await h.text("hooks/create", { callbackURL });
    const relay = [...h.fakes[0].hooks.values()][0].callbackURL;
    const body = new URLSearchParams({
      domain: "bbb1.example.org",
      event: '[{"data":{"id":"meeting-created","attributes":{"meeting":{"external-meeting-id":"m1"}}}}]',
      timestamp: "1700000000000",
    }).toString();
    const sum = (s: string) => createHash("sha1").update(s).digest("hex");
    const path = relay.slice(PUBLIC_URL.length);
    const res = await h.app.request(`${path}?checksum=${sum(relay + body + h.fakes[0].secret)}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(received.length, 1);
    assert.equal(received[0].body, body);
    const got = new URL(received[0].url);
    assert.equal(got.searchParams.get("room"), "1");
    assert.equal(got.searchParams.get("checksum"), sum(callbackURL + body + SECRET)); // what the front-end checks
    // an event signed with another secret is refused and never passed on
    const forged = await h.app.request(`${path}?checksum=${sum(relay + body + "someone-else")}`, {
      method: "POST",
      body,
    });
    assert.equal(forged.status, 403);
    assert.equal(received.length, 1);
  } finally {
    await front.shutdown();
  }
});

Deno.test("getRecordings does not wait the backend timeout for a hanging server: its recordings are left out", async () => {
  await using h = await setup({ servers: 2, backendTimeoutMs: 20_000, fanoutTimeoutMs: 200 });
  const kept = h.fakes[0].addRecording("talk", { startTime: 1000 });
  h.fakes[1].addRecording("talk", { startTime: 2000 });
  h.fakes[1].mode = "hang";
  const started = Date.now();
  const body = await h.text("getRecordings", { meetingID: "talk" });
  assert.ok(Date.now() - started < 10_000);
  assert.equal(tag(body, "returncode"), "SUCCESS");
  assert.deepEqual(recordIDs(body), [kept.recordID]);
});
