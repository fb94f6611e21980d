import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encodeQuery } from "../bbb/query.ts";
import { type Harness, holder, poll, SECRET, setup, sign, tag } from "../../tests/harness.ts";
import { keys } from "../store/keys.ts";
import { addTenant, emptyTenant, type TenantRecord, updateTenant } from "../store/tenants.ts";
import { updateServer } from "../store/servers.ts";

const LAW = "law-secret-0123456789";
const MED = "med-secret-0123456789";

/** Two tenants, law (recognised by its secret) and med (with a host too). */
async function twoTenants(h: Harness, extra: Partial<TenantRecord> = {}) {
  await addTenant(h.kv, { ...emptyTenant("law"), secrets: [LAW], ...extra });
  await addTenant(h.kv, { ...emptyTenant("med"), secrets: [MED], host: "med.example.org" });
}

/** Call the app signed with `secret`, with optional request headers. */
async function callAs(
  h: Harness,
  secret: string,
  call: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<Response> {
  const query = sign(call, encodeQuery(Object.entries(params)), secret);
  return await h.app.request(`http://lb.example.org/bigbluebutton/api/${call}?${query}`, { headers });
}

async function textAs(h: Harness, secret: string, call: string, params: Record<string, string> = {}) {
  return await (await callAs(h, secret, call, params)).text();
}

/** The fake and meeting holding a backend meetingID. */
function backend(h: Harness, id: string) {
  const i = holder(h.fakes, id);
  return i < 0 ? undefined : h.fakes[i].meetings.get(id);
}

Deno.test("two tenants create the same meetingID at once and each gets its own meeting on BBB", async () => {
  await using h = await setup({ servers: 2 });
  await twoTenants(h);
  const [law, med, dflt] = await Promise.all([
    textAs(h, LAW, "create", { meetingID: "room", name: "Law room" }),
    textAs(h, MED, "create", { meetingID: "room", name: "Med room" }),
    textAs(h, SECRET, "create", { meetingID: "room", name: "Default room" }),
  ]);
  for (const body of [law, med, dflt]) assert.equal(tag(body, "returncode"), "SUCCESS");
  // each tenant sees its own ID; BBB holds three meetings
  assert.equal(tag(law, "meetingID"), "room");
  assert.equal(tag(med, "meetingID"), "room");
  assert.equal(backend(h, "law~room")?.meetingName, "Law room");
  assert.equal(backend(h, "med~room")?.meetingName, "Med room");
  assert.equal(backend(h, "room")?.meetingName, "Default room");
  assert.equal(backend(h, "law~room")?.metadata["bbblb-tenant"], "law");
  assert.equal(backend(h, "room")?.metadata["bbblb-tenant"], undefined);

  // joins go to each tenant's own meeting
  const join = await callAs(h, MED, "join", { meetingID: "room", fullName: "Ann", role: "VIEWER" });
  assert.equal(join.status, 302);
  assert.equal(new URL(join.headers.get("location")!).searchParams.get("meetingID"), "med~room");
  const info = await textAs(h, LAW, "getMeetingInfo", { meetingID: "room" });
  assert.equal(tag(info, "meetingName"), "Law room");
  assert.equal(tag(info, "meetingID"), "room");

  // ending one leaves the others running
  assert.equal(tag(await textAs(h, LAW, "end", { meetingID: "room" }), "returncode"), "SUCCESS");
  assert.equal(tag(await textAs(h, LAW, "getMeetingInfo", { meetingID: "room" }), "messageKey"), "notFound");
  assert.equal(tag(await textAs(h, MED, "getMeetingInfo", { meetingID: "room" }), "meetingName"), "Med room");
  assert.equal(
    tag(await textAs(h, SECRET, "getMeetingInfo", { meetingID: "room" }), "meetingName"),
    "Default room",
  );
});

Deno.test("a tenant cannot see, join, end or move another tenant's meeting", async () => {
  await using h = await setup({ servers: 2 });
  await twoTenants(h);
  await textAs(h, LAW, "create", { meetingID: "exam", name: "Law exam" });
  const server = (await h.kv.get<{ serverId: number }>(keys.meeting("law", "exam"))).value!.serverId;
  for (const call of ["join", "end", "getMeetingInfo", "move", "sendChatMessage"]) {
    const body = await textAs(h, MED, call, {
      meetingID: "exam",
      fullName: "Eve",
      role: "MODERATOR",
      message: "x",
    });
    assert.equal(tag(body, "messageKey"), "notFound", `${call}: ${body}`);
  }
  const other = String(server === 1 ? 2 : 1);
  assert.equal(
    tag(await textAs(h, MED, "move", { meetingID: "exam", serverID: other }), "messageKey"),
    "notFound",
  );
  // the scoped backend ID is no way in either
  assert.equal(
    tag(await textAs(h, MED, "getMeetingInfo", { meetingID: "law~exam" }), "messageKey"),
    "notFound",
  );
  assert.equal(
    tag(await textAs(h, SECRET, "join", { meetingID: "law~exam", fullName: "E" }), "messageKey"),
    "notFound",
  );
  assert.equal(tag(await textAs(h, MED, "isMeetingRunning", { meetingID: "exam" }), "running"), "false");
  // listings
  assert.doesNotMatch(await textAs(h, MED, "getMeetings"), /exam/);
  assert.doesNotMatch(await textAs(h, SECRET, "getMeetings"), /exam/);
  assert.match(await textAs(h, LAW, "getMeetings"), /<meetingID>exam<\/meetingID>/);
  assert.doesNotMatch(await textAs(h, MED, "getStatistics"), /exam/);
  assert.match(await textAs(h, LAW, "getStatistics"), /<meetingID>exam<\/meetingID>/);
  // the meeting still runs where it was
  assert.equal(holder(h.fakes, "law~exam"), server - 1);
});

Deno.test("the default tenant cannot create a meetingID in a tenant's scoped form", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  const body = await h.text("create", { meetingID: "law~exam", name: "Sneaky" });
  assert.equal(tag(body, "messageKey"), "validationError");
  assert.equal(h.fakes[0].meetings.size, 0);
  // a tilde alone is fine
  assert.equal(tag(await h.text("create", { meetingID: "a~b", name: "Fine" }), "returncode"), "SUCCESS");
});

Deno.test("a tenant's host admits only that tenant's secrets; X-Forwarded-Host counts only with trustProxy", async () => {
  {
    await using h = await setup({ servers: 1 });
    await twoTenants(h);
    const medHost = { host: "med.example.org:443" };
    // the global secret does not work on med's host, med's does (and makes the request med's)
    assert.equal(
      tag(
        await (await callAs(h, SECRET, "create", { meetingID: "room1", name: "Room" }, medHost)).text(),
        "messageKey",
      ),
      "checksumError",
    );
    await callAs(h, MED, "create", { meetingID: "room1", name: "Room" }, { host: "MED.example.org" });
    assert.ok(h.fakes[0].meetings.has("med~room1"));
    // without trustProxy a forwarded host is ignored: the global secret is the default tenant, as before
    const fwd = await callAs(h, SECRET, "create", { meetingID: "room1", name: "Room" }, {
      "x-forwarded-host": "med.example.org",
    });
    assert.equal(tag(await fwd.text(), "returncode"), "SUCCESS");
    assert.ok(h.fakes[0].meetings.has("room1"));
  }
  {
    await using h = await setup({ servers: 1, trustProxy: true });
    await twoTenants(h);
    const fwd = { "x-forwarded-host": "med.example.org, proxy.internal" };
    assert.equal(
      tag(
        await (await callAs(h, SECRET, "create", { meetingID: "room1", name: "Room" }, fwd)).text(),
        "messageKey",
      ),
      "checksumError",
    );
    await callAs(h, MED, "create", { meetingID: "r2", name: "Room" }, fwd);
    assert.ok(h.fakes[0].meetings.has("med~r2"));
  }
});

Deno.test("create and join rules force, default, remove and cap parameters", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h, {
    create: [
      { op: "force", name: "record", value: "false" },
      { op: "default", name: "welcome", value: "Welcome to Law" },
      { op: "remove", name: "meta_secretNote" },
      { op: "cap", name: "maxParticipants", value: "50" },
      { op: "cap", name: "duration", value: "120" },
    ],
    join: [
      { op: "force", name: "userdata-bbb_skip_check_audio", value: "true" },
      { op: "remove", name: "avatarURL" },
    ],
  });
  await textAs(h, LAW, "create", {
    meetingID: "rules",
    name: "Rules",
    record: "true",
    "meta_secretNote": "x",
    maxParticipants: "0", // BBB's "unlimited" is capped too
    duration: "60",
  });
  const p = h.fakes[0].meetings.get("law~rules")!.createParams;
  assert.equal(p.get("record"), "false");
  assert.equal(p.get("welcome"), "Welcome to Law");
  assert.equal(p.has("meta_secretNote"), false);
  assert.equal(p.get("maxParticipants"), "50");
  assert.equal(p.get("duration"), "60"); // below the cap: kept
  const join = await callAs(h, LAW, "join", {
    meetingID: "rules",
    fullName: "Ann O'Neil",
    role: "VIEWER",
    avatarURL: "https://x.example/a.png",
  });
  const q = new URL(join.headers.get("location")!).searchParams;
  assert.equal(q.get("userdata-bbb_skip_check_audio"), "true");
  assert.equal(q.has("avatarURL"), false);
  assert.equal(q.get("fullName"), "Ann O'Neil");
  // the default tenant has rules of its own (none here), so its creates are untouched
  await h.text("create", { meetingID: "plain", name: "Plain", record: "true" });
  assert.equal(h.fakes[0].meetings.get("plain")!.createParams.get("record"), "true");
  // rules set for "default" apply to the default tenant only
  await updateTenant(
    h.kv,
    "default",
    (t) => ({ ...t, create: [{ op: "force", name: "record", value: "false" }] }),
  );
  await h.text("create", { meetingID: "plain2", name: "Plain", record: "true" });
  assert.equal(h.fakes[0].meetings.get("plain2")!.createParams.get("record"), "false");
});

Deno.test("a tenant's meeting limit refuses new meetings with limitExceeded, never a repeated create", async () => {
  await using h = await setup({ servers: 2 });
  await twoTenants(h, { maxMeetings: 1 });
  assert.equal(
    tag(await textAs(h, LAW, "create", { meetingID: "one", name: "One" }), "returncode"),
    "SUCCESS",
  );
  const refused = await textAs(h, LAW, "create", { meetingID: "two", name: "Two" });
  assert.equal(tag(refused, "messageKey"), "limitExceeded");
  assert.match(tag(refused, "message")!, /limit of 1 concurrent meeting/);
  assert.equal(holder(h.fakes, "law~two"), -1);
  assert.equal(
    tag(await textAs(h, LAW, "create", { meetingID: "one", name: "One" }), "returncode"),
    "SUCCESS",
  );
  // other tenants are not affected
  assert.equal(
    tag(await textAs(h, MED, "create", { meetingID: "two", name: "Two" }), "returncode"),
    "SUCCESS",
  );
  await textAs(h, LAW, "end", { meetingID: "one" });
  assert.equal(
    tag(await textAs(h, LAW, "create", { meetingID: "two", name: "Two" }), "returncode"),
    "SUCCESS",
  );
});

Deno.test("a tenant's participant limit refuses joins with limitExceeded once its meetings are full", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h, { maxParticipants: 2 });
  await textAs(h, LAW, "create", { meetingID: "a", name: "Room A" });
  await textAs(h, LAW, "create", { meetingID: "b", name: "Room B" });
  h.fakes[0].addParticipant("law~a");
  await poll(h);
  const ok = await callAs(h, LAW, "join", { meetingID: "b", fullName: "Ann", role: "VIEWER" });
  assert.equal(ok.status, 302);
  h.fakes[0].addParticipant("law~b");
  await poll(h);
  const refused = await textAs(h, LAW, "join", { meetingID: "b", fullName: "Bob", role: "VIEWER" });
  assert.equal(tag(refused, "messageKey"), "limitExceeded");
  assert.match(tag(refused, "message")!, /2 participants/);
});

Deno.test("bots pass a tenant's participant limit and, where BBB marks them, do not count toward it", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h, { maxParticipants: 2 });
  await textAs(h, LAW, "create", { meetingID: "a", name: "Room A" });
  h.fakes[0].addParticipant("law~a");
  h.fakes[0].addParticipant("law~a");
  await poll(h);
  const join = (extra: Record<string, string>) =>
    callAs(h, LAW, "join", { meetingID: "a", fullName: "Recorder", role: "VIEWER", ...extra });
  assert.equal(tag(await (await join({})).text(), "messageKey"), "limitExceeded");
  assert.equal((await join({ bot: "true" })).status, 302, "a bot passes the limit");
  // A server that marks bot attendees: they are not counted.
  h.fakes[0].marksBots = true;
  h.fakes[0].meetings.get("law~a")!.participants.pop();
  h.fakes[0].addParticipant("law~a", { bot: true });
  h.fakes[0].addParticipant("law~a", { bot: true });
  await poll(h);
  assert.equal((await join({})).status, 302, "one person and two bots: a seat is free");
  h.fakes[0].marksBots = false;
  await poll(h);
  assert.equal(
    tag(await (await join({})).text(), "messageKey"),
    "limitExceeded",
    "unmarked, everyone counts",
  );
});

Deno.test("a tenant's default tag places its meetings on tagged servers unless the create names a tag", async () => {
  await using h = await setup({ servers: 3 });
  await updateServer(h.kv, 3, { tags: ["law"] });
  await twoTenants(h, { defaultTag: "law" });
  await textAs(h, LAW, "create", { meetingID: "t1", name: "Talk" });
  assert.equal(holder(h.fakes, "law~t1"), 2);
  await textAs(h, MED, "create", { meetingID: "t1", name: "Talk" });
  assert.notEqual(holder(h.fakes, "med~t1"), 2);
  await textAs(h, LAW, "create", { meetingID: "t2", name: "Talk", "meta_server-tag": "none" });
  assert.notEqual(holder(h.fakes, "law~t2"), 2);
});

Deno.test("each tenant lists, publishes and deletes only its own recordings, under its own meetingIDs", async () => {
  await using h = await setup({ servers: 2 });
  await twoTenants(h);
  const lawRec = h.fakes[0].addRecording("law~lecture", { metadata: { "bbblb-tenant": "law" } });
  const medRec = h.fakes[1].addRecording("med~lecture", { metadata: { "bbblb-tenant": "med" } });
  const ownRec = h.fakes[1].addRecording("lecture");
  const lawList = await textAs(h, LAW, "getRecordings");
  assert.equal(tag(lawList, "recordID"), lawRec.recordID);
  assert.equal(tag(lawList, "meetingID"), "lecture");
  assert.doesNotMatch(lawList, new RegExp(medRec.recordID));
  assert.equal(
    tag(await textAs(h, LAW, "getRecordings", { meetingID: "lecture" }), "recordID"),
    lawRec.recordID,
  );
  const dfltList = await h.text("getRecordings");
  assert.equal(tag(dfltList, "recordID"), ownRec.recordID);
  assert.doesNotMatch(dfltList, new RegExp(`${lawRec.recordID}|${medRec.recordID}`));
  // another tenant's recordID is as unknown as one that does not exist
  for (const [secret, id] of [[MED, lawRec.recordID], [SECRET, medRec.recordID], [LAW, ownRec.recordID]]) {
    const body = await textAs(h, secret, "deleteRecordings", { recordID: id });
    assert.equal(tag(body, "messageKey"), "notFound", body);
  }
  assert.equal(lawRec.state, "published");
  assert.equal(
    tag(
      await textAs(h, LAW, "publishRecordings", { recordID: lawRec.recordID, publish: "false" }),
      "published",
    ),
    "false",
  );
  assert.equal(lawRec.state, "unpublished");
  const tracks = await (await callAs(h, MED, "getRecordingTextTracks", { recordID: lawRec.recordID })).json();
  assert.equal(tracks.response.returncode, "FAILED");
});

Deno.test("a tenant cannot create webhooks: they would carry other tenants' events", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  const body = await textAs(h, LAW, "hooks/create", { callbackURL: "https://law.example.org/hook" });
  assert.equal(tag(body, "messageKey"), "unsupportedRequest");
  assert.match(tag(body, "message")!, /tenants/);
  assert.equal(h.fakes[0].hooks.size, 0);
});

Deno.test("the poller adopts a meeting created on BBB with a tenant's scoped ID into that tenant", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  h.fakes[0].addMeeting("law~direct", { meetingName: "Direct" });
  h.fakes[0].addMeeting("nobody~direct", { meetingName: "Default's" });
  await poll(h);
  assert.ok((await h.kv.get(keys.meeting("law", "direct"))).value);
  assert.ok((await h.kv.get(keys.meeting("", "nobody~direct"))).value);
  assert.equal(tag(await textAs(h, LAW, "getMeetingInfo", { meetingID: "direct" }), "meetingName"), "Direct");
  // and polling again keeps it (matched by its scoped ID on the server)
  await poll(h);
  await poll(h);
  assert.ok((await h.kv.get(keys.meeting("law", "direct"))).value);
});

Deno.test("a tenant's end callback names its own meetingID", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  const seen: string[] = [];
  const front = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    seen.push(req.url);
    return new Response("ok");
  });
  try {
    const url = `http://127.0.0.1:${front.addr.port}/ended`;
    await textAs(h, LAW, "create", { meetingID: "cb", name: "CB", meta_endCallbackUrl: url });
    const relay = h.fakes[0].meetings.get("law~cb")!.createParams.get("meta_endCallbackUrl")!;
    const path = new URL(relay).pathname;
    const res = await h.app.request(`${path}?meetingID=law~cb&recordingmarks=false`);
    assert.equal(res.status, 200);
    assert.equal(new URL(seen[0]).searchParams.get("meetingID"), "cb");
  } finally {
    await front.shutdown();
  }
});

Deno.test("the checksum of a tenant is verified with the tenant's secrets only: sha1 to sha512 all work", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  for (const algo of ["sha1", "sha512"]) {
    const q = sign("isMeetingRunning", "meetingID=x", LAW, algo);
    const body = await (await h.app.request(`/bigbluebutton/api/isMeetingRunning?${q}`)).text();
    assert.equal(tag(body, "returncode"), "SUCCESS");
  }
  const wrong = createHash("sha256").update("isMeetingRunningmeetingID=xnot-a-secret").digest("hex");
  const body =
    await (await h.app.request(`/bigbluebutton/api/isMeetingRunning?meetingID=x&checksum=${wrong}`))
      .text();
  assert.equal(tag(body, "messageKey"), "checksumError");
});

Deno.test("updateRecordings cannot move a recording into another tenant's listing", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  const rec = h.fakes[0].addRecording("law~lecture", { metadata: { "bbblb-tenant": "law" } });
  await textAs(h, LAW, "updateRecordings", {
    recordID: rec.recordID,
    "meta_bbblb-tenant": "med",
    "meta_x": "1",
  });
  assert.equal(rec.metadata["bbblb-tenant"], "law");
  assert.equal(rec.metadata["x"], "1");
  assert.equal(tag(await textAs(h, MED, "getRecordings"), "messageKey"), "noRecordings");
  assert.equal(
    tag(await textAs(h, MED, "deleteRecordings", { recordID: rec.recordID }), "messageKey"),
    "notFound",
  );
});

Deno.test("a cap rule cannot be dodged with number spellings BBB does not read", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h, { create: [{ op: "cap", name: "maxParticipants", value: "50" }] });
  for (const [i, spelling] of ["1e1", "0x10", "10.0", " 7 "].entries()) {
    await textAs(h, LAW, "create", { meetingID: `cap-${i}`, name: "Capped", maxParticipants: spelling });
    const sent = backend(h, `law~cap-${i}`)!.createParams.get("maxParticipants");
    assert.equal(sent, spelling.trim() === "7" ? "7" : "50", spelling);
  }
});

Deno.test("a tenant cannot move a meeting off the servers its forced tag allows", async () => {
  await using h = await setup({ servers: 3 });
  await updateServer(h.kv, 1, { tags: ["law"] });
  await updateServer(h.kv, 2, { tags: ["med"] });
  await twoTenants(h, { create: [{ op: "force", name: "meta_server-tag", value: "law!" }] });
  await textAs(h, LAW, "create", { meetingID: "exam", name: "Law exam" });
  assert.equal(holder(h.fakes, "law~exam"), 0);
  for (const serverID of ["2", "3"]) {
    assert.equal(
      tag(await textAs(h, LAW, "move", { meetingID: "exam", serverID }), "messageKey"),
      "serverNotEligible",
    );
  }
  assert.equal(holder(h.fakes, "law~exam"), 0);
});

Deno.test("the default tenant cannot take over the running meetings of a removed tenant", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  await textAs(h, LAW, "create", { meetingID: "exam", name: "Law exam" });
  await h.kv.delete(keys.tenant("law")); // what tenant remove --force does to the tenant record
  const body = await h.text("create", { meetingID: "law~exam", name: "Take over" });
  assert.equal(tag(body, "messageKey"), "validationError");
  assert.equal(tag(await h.text("getMeetingInfo", { meetingID: "law~exam" }), "messageKey"), "notFound");
});

Deno.test("raw webhooks are refused while tenants exist", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  const body = await h.text("hooks/create", { callbackURL: "https://lms.example.org/hook", getRaw: "true" });
  assert.equal(tag(body, "messageKey"), "createHookError");
  assert.equal(h.fakes[0].hooks.size, 0);
});

Deno.test("a parameter the default tenant blocks is refused for everyone, naming it, before any server sees it", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  await updateTenant(h.kv, "default", (t) => ({ ...t, policy: { blocked: ["pluginManifests"] } }));
  await updateTenant(h.kv, "law", (t) => ({ ...t, policy: { blocked: ["userdata-bbb_custom_css"] } }));
  for (const secret of [SECRET, LAW]) {
    const body = await textAs(h, secret, "create", { meetingID: "pm", name: "PM", pluginManifests: "[]" });
    assert.equal(tag(body, "messageKey"), "validationError");
    assert.match(tag(body, "message")!, /pluginManifests/);
  }
  assert.equal(h.fakes[0].requests.filter((r) => r.call === "create").length, 0);
  // a tenant's own block applies to its joins only
  await textAs(h, LAW, "create", { meetingID: "pm", name: "PM" });
  await textAs(h, SECRET, "create", { meetingID: "pm", name: "PM" });
  const join = {
    meetingID: "pm",
    fullName: "A",
    role: "VIEWER",
    redirect: "false",
    "userdata-bbb_custom_css": "x",
  };
  assert.match(tag(await textAs(h, LAW, "join", join), "message")!, /userdata-bbb_custom_css/);
  assert.equal(tag(await textAs(h, SECRET, "join", join), "returncode"), "SUCCESS");
});

Deno.test("a tenant's URL allow-list refuses URLs on other hosts in parameters and slides, naming the parameter", async () => {
  await using h = await setup({ servers: 1 });
  await twoTenants(h);
  await updateTenant(h.kv, "law", (t) => ({ ...t, policy: { urlHosts: ["*.law.example.org"] } }));
  const logo = { meetingID: "lg", name: "Logo", logo: "https://evil.example.net/l.png" };
  const refused = await textAs(h, LAW, "create", logo);
  assert.equal(tag(refused, "messageKey"), "validationError");
  assert.match(tag(refused, "message")!, /logo points to evil\.example\.net/);
  assert.equal(
    tag(await textAs(h, SECRET, "create", logo), "returncode"),
    "SUCCESS",
    "other tenants: any host",
  );
  const ok = await textAs(h, LAW, "create", { ...logo, logo: "https://cdn.law.example.org/l.png" });
  assert.equal(tag(ok, "returncode"), "SUCCESS");
  // slides in an XML body
  const slides = (url: string) =>
    `<modules><module name="presentation"><document url="${url}" filename="a.pdf"/></module></modules>`;
  const post = async (meetingID: string, url: string) => {
    const query = sign("create", encodeQuery([["meetingID", meetingID], ["name", "Slides"]]), LAW);
    const res = await h.app.request(`http://lb.example.org/bigbluebutton/api/create?${query}`, {
      method: "POST",
      headers: { "content-type": "application/xml" },
      body: slides(url),
    });
    return await res.text();
  };
  assert.match(tag(await post("sl1", "https://evil.example.net/a.pdf"), "message")!, /XML body/);
  assert.equal(tag(await post("sl2", "https://files.law.example.org/a.pdf"), "returncode"), "SUCCESS");
  // the XML body reaches BBB byte for byte
  const received = h.fakes[0].requests.filter((r) => r.call === "create").at(-1)!;
  assert.equal(received.body, slides("https://files.law.example.org/a.pdf"));
});

Deno.test("callback URLs toward bbblb itself are refused at create and hooks/create unless an allow-list names them", async () => {
  const selfAddresses = [{ host: "127.0.0.1", port: 8090 }, { host: "lb.example.org", port: 443 }];
  await using h = await setup({ servers: 1, selfAddresses });
  const self = "http://127.0.0.1:8090/bigbluebutton/api/end?meetingID=x";
  for (const name of ["meta_endCallbackUrl", "meta_bbb-recording-ready-url", "meta_analytics-callback-url"]) {
    const body = await h.text("create", { meetingID: "cb", name: "CB", [name]: self });
    assert.equal(tag(body, "messageKey"), "validationError", name);
    assert.match(tag(body, "message")!, new RegExp(`${name}.*bbblb itself`));
  }
  const hook = await h.text("hooks/create", { callbackURL: "https://lb.example.org/bigbluebutton/api/x" });
  assert.equal(tag(hook, "messageKey"), "validationError");
  assert.equal(h.fakes[0].requests.length, 0);
  const fine = await h.text("create", {
    meetingID: "cb",
    name: "CB",
    meta_endCallbackUrl: "https://lms.example.org/e",
  });
  assert.equal(tag(fine, "returncode"), "SUCCESS");
  // an allow-list: only its hosts (here the default tenant's, which applies to everyone)
  await updateTenant(h.kv, "default", (t) => ({ ...t, policy: { callbackHosts: ["lms.example.org"] } }));
  const other = await h.text("create", {
    meetingID: "cb2",
    name: "CB",
    meta_endCallbackUrl: "https://x.io/e",
  });
  assert.match(tag(other, "message")!, /x\.io is not an allowed callback host/);
});
