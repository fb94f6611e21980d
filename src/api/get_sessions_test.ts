import assert from "node:assert/strict";
import { encodeQuery } from "../bbb/query.ts";
import { type Harness, holder, SECRET, setup, sign, tag } from "../../tests/harness.ts";
import { addTenant, emptyTenant } from "../store/tenants.ts";

const LAW = "law-secret-0123456789";

async function textAs(h: Harness, secret: string, call: string, params: Record<string, string> = {}) {
  const query = sign(call, encodeQuery(Object.entries(params)), secret);
  return await (await h.app.request(`http://lb.example.org/bigbluebutton/api/${call}?${query}`)).text();
}

/** Put a joined user into the fake meeting `backendID` (joins redirect to the server, which the app never follows). */
function joinOnServer(h: Harness, backendID: string, fullName: string) {
  const m = h.fakes[holder(h.fakes, backendID)].meetings.get(backendID)!;
  m.participants.push({ userID: `u-${fullName}`, fullName, role: "VIEWER", internalUserID: `w_${fullName}` });
}

Deno.test("getSessions answers noSessions as BBB when nobody is in a meeting", async () => {
  await using h = await setup({ servers: 2 });
  const body = await h.text("getSessions");
  assert.equal(tag(body, "returncode"), "SUCCESS");
  assert.equal(tag(body, "messageKey"), "noSessions");
  assert.match(body, /<sessions\s*\/>|<sessions><\/sessions>/);
});

Deno.test("getSessions merges every server's sessions and gives each tenant only its own users", async () => {
  await using h = await setup({ servers: 2 });
  await addTenant(h.kv, { ...emptyTenant("law"), secrets: [LAW] });
  for (const id of ["ra", "rb"]) await h.text("create", { meetingID: id, name: `Room ${id}` });
  await textAs(h, LAW, "create", { meetingID: "ra", name: "Law room" });
  joinOnServer(h, "ra", "Ann");
  joinOnServer(h, "rb", "Bob");
  joinOnServer(h, "law~ra", "Lisa");
  // A meeting bbblb does not know (created directly on a server, not adopted yet) is nobody's.
  const stranger = h.fakes[0];
  stranger.meetings.set("direct", {
    ...stranger.meetings.values().next().value!,
    meetingID: "direct",
    internalMeetingID: "0".repeat(40) + "-1",
    participants: [{ userID: "x", fullName: "Stranger", role: "VIEWER" }],
  });

  const mine = await h.text("getSessions");
  const names = [...mine.matchAll(/<fullName>([^<]*)<\/fullName>/g)].map((m) => m[1]).sort();
  assert.deepEqual(names, ["Ann", "Bob"]);
  assert.equal(tag(mine, "messageKey"), undefined);
  const internalA = h.fakes[holder(h.fakes, "ra")].meetings.get("ra")!.internalMeetingID;
  assert.ok(mine.includes(`<meetingID>${internalA}</meetingID>`), "BBB's internal meetingID passes through");

  const law = await textAs(h, LAW, "getSessions");
  assert.deepEqual([...law.matchAll(/<fullName>([^<]*)<\/fullName>/g)].map((m) => m[1]), ["Lisa"]);
  assert.ok(!law.includes("Ann") && !law.includes("Stranger"));
});

Deno.test("getSessions leaves out a server that fails and answers serverUnavailable when all do", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "ra", name: "Room a" });
  joinOnServer(h, "ra", "Ann");
  const other = h.fakes[1 - holder(h.fakes, "ra")];
  other.mode = "http500";
  assert.ok((await h.text("getSessions")).includes("<fullName>Ann</fullName>"));
  for (const f of h.fakes) f.mode = "http500";
  assert.equal(tag(await h.text("getSessions"), "messageKey"), "serverUnavailable");
  assert.equal(tag(await textAs(h, SECRET, "getSessions", { x: "1" }), "messageKey"), "serverUnavailable");
});
