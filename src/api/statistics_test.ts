/**
 * Tests of the custom call `getStatistics`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { holder, poll, setup, tag } from "../../tests/harness.ts";
import { setServerState } from "../store/servers.ts";

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
