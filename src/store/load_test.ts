/**
 * Tests of the load sums: a repair is applied only to the sum it was computed from.
 *
 * @module
 */
import assert from "node:assert/strict";
import { keys } from "./keys.ts";
import { addLoad, loadOf, repairLoad } from "./load.ts";

Deno.test("a load repair is written only if the sum did not change since it was read", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await addLoad(kv.atomic(), 1, 3000).commit();
    const read = await kv.get<Deno.KvU64>(keys.load(1));
    // A claim lands between the read and the repair: the repair must not erase it.
    await addLoad(kv.atomic(), 1, 1000).commit();
    assert.equal(await repairLoad(kv, 1, read.versionstamp, 2000), false);
    assert.equal(loadOf(await kv.get<Deno.KvU64>(keys.load(1))), 4000);
    const now = await kv.get<Deno.KvU64>(keys.load(1));
    assert.equal(await repairLoad(kv, 1, now.versionstamp, 2000), true);
    assert.equal(loadOf(await kv.get<Deno.KvU64>(keys.load(1))), 2000);
    // A server that never had a sum gets one.
    assert.equal(await repairLoad(kv, 2, null, 1000), true);
    assert.equal(loadOf(await kv.get<Deno.KvU64>(keys.load(2))), 1000);
  } finally {
    kv.close();
  }
});
