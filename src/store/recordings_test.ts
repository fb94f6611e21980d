/**
 * Tests of the recordings index in the store: the start-time index a getRecordings page is read from follows
 * every change, also one made by another process.
 *
 * @module
 */
import assert from "node:assert/strict";
import { indexRecord, withTempDir } from "../../tests/recording_fixtures.ts";
import { DEFAULT_TENANT } from "./keys.ts";
import { listRecordingsByStart, updateRecording } from "./recordings.ts";

const ids = async (kv: Deno.Kv, tenant = DEFAULT_TENANT) =>
  (await listRecordingsByStart(kv, tenant)).map((s) => `${s.recordID.slice(-4)} ${s.state}`);

Deno.test("the start-time index kept in memory shows what another instance changed in the shared store", async () => {
  await withTempDir(async (dir) => {
    await using a = await Deno.openKv(`${dir}/bbblb.kv`);
    await using b = await Deno.openKv(`${dir}/bbblb.kv`);
    const first = indexRecord({ meetingID: "room-1", startTime: 1_700_000_001_000 });
    await updateRecording(a, first.recordID, () => first);
    assert.deepEqual(await ids(a), ["1000 published"]);

    // another instance imports a recording, unpublishes the first, and moves one to another tenant
    const second = indexRecord({ meetingID: "room-2", startTime: 1_700_000_000_500 });
    await updateRecording(b, second.recordID, () => second);
    assert.deepEqual(await ids(a), ["0500 published", "1000 published"]);
    await updateRecording(b, first.recordID, (cur) => ({ ...cur!, state: "unpublished" }));
    assert.deepEqual(await ids(a), ["0500 published", "1000 unpublished"]);
    await updateRecording(b, second.recordID, (cur) => ({ ...cur!, tenant: "law" }));
    assert.deepEqual(await ids(a), ["1000 unpublished"]);
    assert.deepEqual(await ids(a, "law"), ["0500 published"]);
  });
});
