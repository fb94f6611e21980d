import assert from "node:assert/strict";
import { poll, setup, tag } from "../../tests/harness.ts";
import { overdueBy } from "./overdue.ts";
import { getMeeting } from "../store/meetings.ts";

Deno.test("overdueBy() counts from the start, adds the grace, and spares meetings without a duration", () => {
  const m = { duration: 60, startedAt: 1_000_000, isBreakout: false };
  const at = (minutes: number) => 1_000_000 + minutes * 60_000;
  assert.equal(overdueBy(m, at(70), 10), null, "exactly at duration + grace: not yet");
  assert.equal(overdueBy(m, at(71), 10), 60_000);
  assert.equal(overdueBy(m, at(61), 0), 60_000, "grace 0 ends at the duration");
  assert.equal(overdueBy({ ...m, duration: 0 }, at(100_000), 10), null, "no duration: never");
  assert.equal(overdueBy({ ...m, startedAt: null }, at(100), 10), null);
  assert.equal(
    overdueBy({ ...m, isBreakout: true }, at(100), 10),
    null,
    "breakout rooms end with their parent",
  );
});

Deno.test("the poller ends a meeting running past its duration plus the grace, and logs it", async () => {
  const lines: { msg: string; fields: Record<string, unknown> }[] = [];
  const log = {
    debug() {},
    info() {},
    warn(msg: string, fields: Record<string, unknown> = {}) {
      lines.push({ msg, fields });
    },
    error(msg: string, fields: Record<string, unknown> = {}) {
      lines.push({ msg, fields });
    },
  };
  await using h = await setup({ servers: 1 });
  assert.equal(
    tag(await h.text("create", { meetingID: "long", name: "Long", duration: "30" }), "returncode"),
    "SUCCESS",
  );
  await h.text("create", { meetingID: "open", name: "Open" });
  const fake = h.fakes[0];
  fake.addParticipant("long");
  fake.addParticipant("open");
  // BBB did not end it (lost users, or a server that ignores duration): 45 minutes old, 10 minutes of grace.
  for (const m of fake.meetings.values()) m.createTime -= 45 * 60_000;
  await poll(h, { log, overdueGraceMinutes: 20 });
  assert.equal(fake.meetings.has("long"), true, "within a longer grace it runs on");
  await poll(h, { log });
  assert.equal(fake.meetings.has("long"), false, "ended on its server");
  assert.equal(fake.meetings.has("open"), true, "a meeting without a duration runs on");
  const line = lines.find((l) => l.msg.startsWith("overdue meeting ended"));
  assert.deepEqual(line?.fields, { meetingID: "long", server: 1, duration: 30, overdueMinutes: 5 });
  // and bbblb forgets it once its server stops listing it
  await poll(h);
  await poll(h);
  assert.equal((await getMeeting(h.kv, "", "long")).value, null);
});
