/**
 * Tests of getMeetings: one listing merged from every server.
 *
 * @module
 */
import assert from "node:assert/strict";
import { setup, tag } from "../../tests/harness.ts";

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
