/**
 * Tests of placing a new meeting: how a create is sent to BBB (rejoin and relay links in place of the client's
 * URLs, long parameters in a form body), what of BBB's answer is kept, which server is chosen and why one is
 * refused, which failures leave a create in doubt, and what one placement attempt comes to against fake BBB
 * servers (an answer, a retry that excludes the failed server, a claim in doubt).
 *
 * @module
 */
import assert from "node:assert/strict";
import { setup } from "../../tests/harness.ts";
import { BackendError, type BackendFailure } from "../bbb/client.ts";
import type { PlacementRequest } from "../balancer/placement.ts";
import { BbbError } from "../bbb/errors.ts";
import type { Params } from "../bbb/query.ts";
import { getMeeting, type MeetingRecord, removeMeeting } from "../store/meetings.ts";
import { listServers, type ServerView, updateServer } from "../store/servers.ts";
import { verifyRelay } from "./callbacks.ts";
import type { ClusterContext } from "./context.ts";
import {
  candidates,
  chooseServer,
  createCall,
  createDetails,
  createsRecorded,
  inDoubt,
  placeNewMeeting,
  type PlaceRequest,
} from "./create.ts";
import { verifyRejoinLink } from "./links.ts";
import { Placer } from "./placement_turns.ts";

const LINKS = {
  publicUrl: "https://bbblb.example.org",
  linkKey: new Uint8Array(32).fill(9),
  historyId: "h-42",
};

Deno.test("createCall() sends the instance's rejoin link as logoutURL and relay links for callbacks", () => {
  const params: Params = [
    ["meetingID", "room"],
    ["logoutURL", "https://lms.example.org/bye"],
    ["meta_endCallbackUrl", "https://lms.example.org/end"],
    ["name", "Room"],
  ];
  const call = createCall(params, LINKS);
  assert.equal(call.body, undefined);
  const sent = new URLSearchParams(call.query);
  assert.deepEqual([...sent.keys()], ["meetingID", "meta_endCallbackUrl", "name", "logoutURL"]);
  assert.equal(call.query.includes("lms.example.org"), false, "none of the client's URLs reach BBB");
  const logout = new URL(sent.get("logoutURL")!);
  assert.equal(logout.origin + logout.pathname, "https://bbblb.example.org/bigbluebutton/api/rejoin");
  assert.equal(logout.searchParams.get("meetingID"), "h-42");
  assert.equal(verifyRejoinLink(LINKS.linkKey, "h-42", logout.searchParams.get("checksum")!), true);
  const [kind, historyId, name, sig] = sent.get("meta_endCallbackUrl")!.split("/").slice(-4);
  assert.equal(verifyRelay(LINKS.linkKey, kind as "end", historyId, decodeURIComponent(name), sig), true);
  // A create without a logoutURL gets the rejoin link too.
  assert.ok(
    new URLSearchParams(createCall([["meetingID", "r"]], LINKS).query).get("logoutURL")!.includes("/rejoin?"),
  );
});

Deno.test("createCall() sends parameters too long for a URL in a form body, whole", () => {
  const welcome = "Welcome! ".repeat(600);
  const call = createCall([["meetingID", "room"], ["welcome", welcome]], LINKS);
  assert.equal(call.query, "", "the checksum then covers the empty query, as BBB computes it");
  assert.equal(call.contentType, "application/x-www-form-urlencoded");
  const form = new URLSearchParams(call.body as string);
  assert.equal(form.get("meetingID"), "room");
  assert.equal(form.get("welcome"), welcome);
  assert.ok(form.get("logoutURL")!.startsWith("https://bbblb.example.org/bigbluebutton/api/rejoin?"));
});

Deno.test("createCall() forwards an XML body (slides) as it came, with the parameters in the query", () => {
  const bytes = new TextEncoder().encode('<modules><module name="presentation"/></modules>');
  const call = createCall([["meetingID", "room"]], LINKS, { bytes, contentType: "application/xml" });
  assert.equal(call.body, bytes);
  assert.equal(call.contentType, "application/xml");
  assert.equal(new URLSearchParams(call.query).get("meetingID"), "room");
});

Deno.test("createDetails() keeps BBB's IDs, passwords and PIN, and nothing empty, missing or oversized", () => {
  assert.deepEqual(
    createDetails({
      returncode: "SUCCESS",
      internalMeetingID: "abc-1700000000000",
      createTime: "1700000000000",
      attendeePW: "ap",
      moderatorPW: "mp",
      voiceBridge: "12345",
    }),
    {
      internalMeetingID: "abc-1700000000000",
      createTime: "1700000000000",
      attendeePW: "ap",
      moderatorPW: "mp",
      voiceBridge: "12345",
    },
  );
  assert.deepEqual(
    createDetails({
      returncode: "SUCCESS",
      internalMeetingID: "",
      attendeePW: "x".repeat(513),
      voiceBridge: {},
    }),
    { internalMeetingID: null, createTime: null, attendeePW: null, moderatorPW: null, voiceBridge: null },
  );
});

/** A server as placement sees it: enabled, healthy, empty, unless told otherwise. */
function view(id: number, over: Partial<ServerView> = {}): ServerView {
  return {
    id,
    apiUrl: `http://127.0.0.1:${id}/bigbluebutton/api/`,
    secret: "s",
    weight: 1,
    state: "enabled",
    checksum: "sha256",
    addedAt: 0,
    health: { online: true, excluded: false, failures: 0, successes: 0, lastError: null, lastGoodPoll: null },
    online: true,
    placeable: true,
    loadMilli: 0,
    loadVersionstamp: null,
    stats: { participants: 0, videos: 0, extraMilli: 0 },
    meetingCount: null,
    ...over,
  };
}

const ANY: PlacementRequest = { tags: { tags: [], required: false }, exclude: new Set(), failures: 0 };

Deno.test("candidates() count the poller's extra load and mark servers at their meeting cap as full", () => {
  const [a, b, c] = candidates([
    view(1, { stats: { participants: 40, videos: 2, extraMilli: 30_000 } }),
    view(2, { maxMeetings: 3, meetingCount: 3 }),
    view(3, { maxMeetings: 3, meetingCount: 2 }),
  ]);
  assert.deepEqual([a.extraMilli, a.full], [30_000, false]);
  assert.deepEqual([b.extraMilli, b.full], [0, true]);
  assert.equal(c.full, false);
});

Deno.test("chooseServer() picks the least loaded server, counting live load and weight", () => {
  const servers = [
    view(1, { loadMilli: 2000 }),
    view(2, { loadMilli: 1000, stats: { participants: 20, videos: 0, extraMilli: 5000 } }),
    view(3, { loadMilli: 4000, weight: 4 }),
  ];
  assert.equal(chooseServer(servers, ANY).id, 3);
  assert.equal(chooseServer(servers, { ...ANY, exclude: new Set([3]) }).id, 1);
});

Deno.test("chooseServer() refuses with limitExceeded, serverTagUnavailable or serverUnavailable, as BbbErrors", () => {
  const refusal = (servers: ServerView[], request = ANY) => {
    try {
      chooseServer(servers, request);
    } catch (e) {
      assert.ok(e instanceof BbbError);
      return e.messageKey;
    }
    assert.fail("a server was chosen");
  };
  assert.equal(refusal([view(1, { maxMeetings: 1, meetingCount: 1 })]), "limitExceeded");
  assert.equal(
    refusal([view(1, { tags: ["video"] })], { ...ANY, tags: { tags: ["lecture"], required: true } }),
    "serverTagUnavailable",
  );
  assert.equal(refusal([view(1, { state: "disabled" }), view(2, { placeable: false })]), "serverUnavailable");
  assert.equal(refusal([]), "serverUnavailable");
});

Deno.test("inDoubt(): only a failure after which BBB may have created the meeting leaves the create in doubt", () => {
  const doubt = (kind: BackendFailure, message = "create: failed") =>
    inDoubt(new BackendError(kind, message));
  assert.equal(doubt("timeout"), true);
  assert.equal(doubt("unreachable"), true, "the connection broke after the request was sent");
  assert.equal(doubt("http", "create: HTTP 504 from https://bbb1"), true, "a proxy gave up waiting");
  assert.equal(doubt("refused"), false, "BBB never saw the request");
  assert.equal(doubt("http", "create: HTTP 500 from https://bbb1"), false);
  assert.equal(doubt("http", "create: HTTP 502 from https://bbb1:5040"), false);
  assert.equal(doubt("invalid"), false);
});

function request(over: Partial<PlaceRequest> = {}): PlaceRequest {
  return {
    tenant: "",
    meetingID: "room-1",
    loadMilli: 1000,
    params: [["meetingID", "room-1"], ["name", "Room 1"], ["dialNumber", "+1 555 0100"]],
    tried: new Set(),
    ...over,
  };
}

Deno.test("placeNewMeeting() claims, creates and records the meeting with a PIN bbblb allocated", async () => {
  await using h = await setup({ servers: 1 });
  const placed = await placeNewMeeting(h.ctx, request());
  assert.equal(placed.kind, "answer");
  if (placed.kind !== "answer") return;
  assert.equal(placed.response.returncode, "SUCCESS");
  assert.equal(placed.serverId, 1);
  // BBB's answer is recorded just after the answer
  await createsRecorded();
  const m = (await getMeeting(h.kv, "", "room-1")).value!;
  assert.deepEqual([m.status, m.serverId, m.loadMilli], ["running", 1, 1000]);
  const onBbb = h.fakes[0].meetings.get("room-1")!;
  assert.equal(m.internalMeetingID, onBbb.internalMeetingID);
  assert.match(m.voiceBridge!, /^\d{5}$/);
  assert.equal(onBbb.voiceBridge, m.voiceBridge);
  assert.equal(
    onBbb.createParams.get("dialNumber"),
    "+1 555 0100",
    "the client's dialNumber without --dial-number",
  );
  assert.equal((await listServers(h.kv))[0].loadMilli, 1000);
});

Deno.test("placeNewMeeting() with a dial number set sends that number, whatever the client gave", async () => {
  await using h = await setup({ servers: 1 });
  const ctx: ClusterContext = { ...h.ctx, dialNumber: "+49 30 555 0000" };
  assert.equal((await placeNewMeeting(ctx, request())).kind, "answer");
  assert.deepEqual(h.fakes[0].meetings.get("room-1")!.createParams.getAll("dialNumber"), ["+49 30 555 0000"]);
});

Deno.test("a server that fails the create is released and excluded: retry, then serverUnavailable when none is left", async () => {
  await using h = await setup({ servers: 1 });
  h.fakes[0].callModes.create = "http500";
  const req = request();
  assert.deepEqual(await placeNewMeeting(h.ctx, req), { kind: "retry" });
  assert.deepEqual([...req.tried], [1]);
  assert.equal((await getMeeting(h.kv, "", "room-1")).value, null, "the claim was released");
  assert.equal((await listServers(h.kv))[0].loadMilli, 0);
  await assert.rejects(
    placeNewMeeting(h.ctx, req),
    (e) => e instanceof BbbError && e.messageKey === "serverUnavailable",
  );
});

Deno.test("a create without a telling answer keeps its claim in doubt on that server", async () => {
  await using h = await setup({ servers: 2, createTimeoutMs: 150 });
  for (const f of h.fakes) f.callModes.create = "hang";
  const req = request();
  const placed = await placeNewMeeting(h.ctx, req);
  assert.equal(placed.kind, "doubt");
  if (placed.kind !== "doubt") return;
  assert.equal(placed.claim.value.status, "doubt");
  assert.equal(req.tried.size, 0, "the server is not given up: it is asked first");
  assert.equal((await getMeeting(h.kv, "", "room-1")).value!.serverId, placed.claim.value.serverId);
});

Deno.test("a refusal on a kept snapshot is not final: the store is read again before a create is refused", async () => {
  await using h = await setup({ servers: 1 });
  await updateServer(h.kv, 1, { maxMeetings: 1 });
  const ctx: ClusterContext = { ...h.ctx, placer: new Placer({ maxAgeMs: 60_000, now: () => 0 }) };
  const first = await placeNewMeeting(ctx, request());
  assert.ok(first.kind === "answer" && first.serverId === 1);
  await createsRecorded();
  const placed = await getMeeting(h.kv, "", "room-1");
  // The meeting ends elsewhere (another process); this process's snapshot still counts it.
  await removeMeeting(h.kv, placed as Deno.KvEntry<MeetingRecord>, "ended");
  const req = request({ meetingID: "room-2", params: [["meetingID", "room-2"], ["name", "Room 2"]] });
  assert.deepEqual(await placeNewMeeting(ctx, req), { kind: "retry" }, "not limitExceeded");
  const second = await placeNewMeeting(ctx, req);
  assert.equal(second.kind, "answer");
  assert.ok(h.fakes[0].meetings.has("room-2"));
  // Now the cap really is reached: refused once the store, read again, says so too.
  const third = request({ meetingID: "room-3", params: [["meetingID", "room-3"]] });
  assert.deepEqual(await placeNewMeeting(ctx, third), { kind: "retry" });
  await assert.rejects(
    placeNewMeeting(ctx, third),
    (e) => e instanceof BbbError && e.messageKey === "limitExceeded",
  );
});
