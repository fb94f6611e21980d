/**
 * Tests of the schema version: an empty store is stamped, a store in the first layout (no version) is migrated
 * and then works, a store newer than the code is refused.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertLoadsExact, holder, setup, tag } from "../../tests/harness.ts";
import { indexRecord } from "../../tests/recording_fixtures.ts";
import { DEFAULT_TENANT, keys } from "./keys.ts";
import { listRecordingsByStart, updateRecording } from "./recordings.ts";
import { ensureSchema, SCHEMA_VERSION, SchemaError, schemaVersionOf } from "./schema.ts";
import type { MeetingRecord } from "./meetings.ts";
import type { ServerHealth } from "./servers.ts";

Deno.test("an empty store is stamped with the current schema version", async () => {
  await using kv = await Deno.openKv(":memory:");
  assert.equal(await schemaVersionOf(kv), null);
  const report = await ensureSchema(kv);
  assert.deepEqual(report, { from: null, to: SCHEMA_VERSION, migrated: [] });
  assert.equal((await kv.get(keys.setting("schema_version"))).value, SCHEMA_VERSION);
});

/**
 * Rewrite a harness store into the first layout: no version, old health, no movedFrom, no reservations, load sums
 * as plain numbers.
 */
async function toFirstLayout(kv: Deno.Kv): Promise<void> {
  await kv.delete(keys.setting("schema_version"));
  for await (const e of kv.list<Deno.KvU64>({ prefix: keys.loads() })) {
    await kv.set(e.key, Number(e.value.value));
  }
  for await (const e of kv.list<ServerHealth>({ prefix: keys.healths() })) {
    await kv.set(e.key, { excludedUntil: 0, failures: 0, lastError: null, lastGoodAt: 1_700_000_000_000 });
  }
  for await (const e of kv.list<MeetingRecord>({ prefix: keys.allMeetings() })) {
    const { movedFrom: _, ...v1 } = e.value;
    await kv.set(e.key, v1);
  }
  for await (const e of kv.list({ prefix: ["voice_bridge"] })) await kv.delete(e.key);
}

Deno.test("a store written in the first layout is migrated at start and then places, refuses and moves", async () => {
  await using h = await setup({ servers: 2 });
  assert.match(await h.text("create", { meetingID: "old", name: "Old", voiceBridge: "71234" }), /SUCCESS/);
  await toFirstLayout(h.kv);
  assert.equal(await schemaVersionOf(h.kv), 1);

  const report = await ensureSchema(h.kv);
  assert.equal(report.from, 1);
  assert.equal(report.to, SCHEMA_VERSION);
  assert.equal(report.migrated.length, SCHEMA_VERSION - 1);
  // load sums are Deno.KvU64 again, and still exact
  await assertLoadsExact(h.kv);
  for await (const e of h.kv.list({ prefix: keys.loads() })) assert.ok(e.value instanceof Deno.KvU64);
  assert.equal(await schemaVersionOf(h.kv), SCHEMA_VERSION);
  const health = (await h.kv.get<ServerHealth>(keys.health(1))).value!;
  assert.equal(health.online, true);
  assert.equal(health.lastGoodPoll, 1_700_000_000_000);

  // Servers are placeable again (the old health had no `online`, so every server looked offline).
  assert.match(await h.text("create", { meetingID: "new", name: "New" }), /SUCCESS/);
  // The old meeting's dial-in PIN is reserved cluster-wide.
  const clash = await h.text("create", { meetingID: "clash", name: "Clash", voiceBridge: "71234" });
  assert.equal(tag(clash, "key"), "nonUniqueVoiceBridge");
  // And it can move (movedFrom exists), and end (the load sum takes `sum`).
  const from = holder(h.fakes, "old");
  assert.match(await h.text("move", { meetingID: "old" }), /SUCCESS/);
  assert.notEqual(holder(h.fakes, "old"), from);
  assert.match(await h.text("end", { meetingID: "old" }), /SUCCESS/);
  await assertLoadsExact(h.kv);
});

Deno.test("migrating twice changes nothing the second time", async () => {
  await using h = await setup({ servers: 1 });
  assert.match(await h.text("create", { meetingID: "m1", name: "Meeting" }), /SUCCESS/);
  await toFirstLayout(h.kv);
  await ensureSchema(h.kv);
  const before = await Array.fromAsync(h.kv.list({ prefix: [] }));
  assert.deepEqual((await ensureSchema(h.kv)).migrated, []);
  assert.deepEqual(await Array.fromAsync(h.kv.list({ prefix: [] })), before);
});

Deno.test("a store newer than the code is refused with a clear error and left as it is", async () => {
  await using kv = await Deno.openKv(":memory:");
  await kv.set(keys.setting("schema_version"), SCHEMA_VERSION + 1);
  await assert.rejects(
    () => ensureSchema(kv),
    (e: unknown) =>
      e instanceof SchemaError &&
      e.message === `the store has schema version ${SCHEMA_VERSION + 1}, newer than this bbblb understands ` +
          `(${SCHEMA_VERSION}): run the newer bbblb that wrote it, or restore a backup made before the upgrade`,
  );
  assert.equal((await kv.get(keys.setting("schema_version"))).value, SCHEMA_VERSION + 1);
});

Deno.test("a store from before the start-time index of recordings gets it at start, and pages list its recordings", async () => {
  await using kv = await Deno.openKv(":memory:");
  await ensureSchema(kv);
  const made = [3, 1, 2].map((n) =>
    indexRecord({ meetingID: `room-${n}`, startTime: 1_700_000_000_000 + n })
  );
  for (const r of made) await updateRecording(kv, r.recordID, () => r);
  for await (const e of kv.list({ prefix: keys.allRecordingsByStart() })) await kv.delete(e.key);
  await kv.set(keys.setting("schema_version"), 3);

  const report = await ensureSchema(kv);
  assert.deepEqual(report.migrated, ["schema 3 to 4: the recordings in custody get their start-time index"]);
  assert.deepEqual(
    (await listRecordingsByStart(kv, DEFAULT_TENANT)).map((s) => s.recordID),
    [made[1], made[2], made[0]].map((r) => r.recordID),
  );
});
