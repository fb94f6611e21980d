/**
 * Tests of `bbblb panic`: every meeting moved off a server, none lost, and a second run finishes what is left.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertLoadsExact, poll, setup } from "../../tests/harness.ts";
import { panicCommand } from "./meetings.ts";
import { getMeeting } from "../store/meetings.ts";
import { listServers } from "../store/servers.ts";

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
  const asked = h.fakes[0].requests.length;
  await panicCommand(h.ctx, "1", (l) => lines.push(l));
  assert.match(lines[0], /^moved adopted-room to server 2 \(adopted: .*record, welcome, lock settings/);
  const infos = h.fakes[0].requests.slice(asked).filter((r) => r.call === "getMeetingInfo");
  assert.equal(
    infos.length,
    1,
    "one getMeetingInfo both checks the old copy answers and recovers its settings",
  );
  const moved = h.fakes[1].meetings.get("adopted-room")!;
  assert.equal(moved.meetingName, "Physics 101");
  assert.equal(moved.metadata.course, "phy-101");
  assert.equal(moved.metadata["bbb-origin"], "Moodle");
  assert.equal(moved.createParams.get("duration"), "90");
  assert.equal(h.fakes[0].meetings.has("adopted-room"), false);
});
