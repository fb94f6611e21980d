/**
 * Tests of getMeetings: one listing merged from every server.
 *
 * @module
 */
import assert from "node:assert/strict";
import { pollDeps, setup, tag } from "../../tests/harness.ts";
import { MeetingLists } from "../cluster/fan_out.ts";
import { pollRound } from "../poller/round.ts";

Deno.test("getMeetings merges the meetings of every server", async () => {
  await using h = await setup();
  for (let i = 0; i < 6; i++) await h.text("create", { meetingID: `gm-${i}`, name: `GM ${i}` });
  h.fakes[0].addMeeting("direct", { meetingName: "Created on the server" });
  const body = await h.text("getMeetings");
  assert.equal(tag(body, "returncode"), "SUCCESS");
  const ids = [...body.matchAll(/<meetingID>([^<]*)<\/meetingID>/g)].map((m) => m[1]).sort();
  assert.deepEqual(ids, ["direct", "gm-0", "gm-1", "gm-2", "gm-3", "gm-4", "gm-5"]);
});

Deno.test("getMeetings lists what the others have when one server fails", async () => {
  await using h = await setup({ backendTimeoutMs: 300 });
  for (let i = 0; i < 6; i++) await h.text("create", { meetingID: `p-${i}`, name: "pp" });
  const lost = h.fakes[0].meetings.size;
  h.fakes[0].mode = "hang";
  const body = await h.text("getMeetings");
  assert.equal(tag(body, "returncode"), "SUCCESS");
  assert.equal([...body.matchAll(/<meeting>/g)].length, 6 - lost);
});

Deno.test("getMeetings: noMeetings when empty, serverUnavailable when every server fails", async () => {
  await using h = await setup({ servers: 2, backendTimeoutMs: 300 });
  const empty = await h.text("getMeetings");
  assert.equal(tag(empty, "returncode"), "SUCCESS");
  assert.equal(tag(empty, "messageKey"), "noMeetings");
  assert.match(empty, /<meetings\/>/);
  h.fakes[0].mode = "http500";
  await h.fakes[1].stop();
  assert.equal(tag(await h.text("getMeetings"), "messageKey"), "serverUnavailable");
});

const meetingIDs = (xml: string) =>
  [...xml.matchAll(/<meetingID>([^<]*)<\/meetingID>/g)].map((m) => m[1]).sort();
const ALL = ["f-0", "f-1", "f-2", "f-3", "f-4", "f-5"];

Deno.test("getMeetings does not wait the backend timeout for a hanging server: it lists it as it last answered", async () => {
  await using h = await setup({ backendTimeoutMs: 20_000, fanoutTimeoutMs: 200 });
  for (const id of ALL) await h.text("create", { meetingID: id, name: id });
  assert.deepEqual(meetingIDs(await h.text("getMeetings")), ALL);
  h.fakes[0].mode = "hang";
  const started = Date.now();
  const body = await h.text("getMeetings");
  // answered long before the hanging server's 20 s backend timeout, with its meetings from its last answer
  assert.ok(Date.now() - started < 10_000);
  assert.equal(tag(body, "returncode"), "SUCCESS");
  assert.deepEqual(meetingIDs(body), ALL);
});

Deno.test("getMeetings leaves out a server late to answer that it has never heard from", async () => {
  await using h = await setup({ backendTimeoutMs: 20_000, fanoutTimeoutMs: 200 });
  for (const id of ALL) await h.text("create", { meetingID: id, name: id });
  const lost = [...h.fakes[0].meetings.keys()];
  h.fakes[0].mode = "hang";
  const body = await h.text("getMeetings");
  assert.deepEqual(meetingIDs(body), ALL.filter((id) => !lost.includes(id)));
});

Deno.test("getMeetings lists a late server as the last poll round saw it", async () => {
  const meetingLists = new MeetingLists();
  await using h = await setup({ backendTimeoutMs: 20_000, fanoutTimeoutMs: 200, meetingLists });
  for (const id of ALL) await h.text("create", { meetingID: id, name: id });
  await pollRound({ ...pollDeps(h), onMeetingList: (server, text) => meetingLists.remember(server, text) });
  h.fakes[1].mode = "hang";
  assert.deepEqual(meetingIDs(await h.text("getMeetings")), ALL);
});

Deno.test("getMeetings is serverUnavailable when every server is late and none has answered before", async () => {
  await using h = await setup({ servers: 2, backendTimeoutMs: 20_000, fanoutTimeoutMs: 200 });
  for (const f of h.fakes) f.mode = "hang";
  assert.equal(tag(await h.text("getMeetings"), "messageKey"), "serverUnavailable");
});
