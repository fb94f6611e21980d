import assert from "node:assert/strict";
import { acquireLease, releaseLease, removeExpiredLease } from "./lease.ts";

Deno.test("only one owner holds the poller lease until it expires or is released", async () => {
  using kv = await Deno.openKv(":memory:");
  assert.equal(await acquireLease(kv, "a", 3000, 1000), true);
  assert.equal(await acquireLease(kv, "b", 3000, 2000), false);
  assert.equal(await acquireLease(kv, "a", 3000, 2500), true); // renewed until 5500
  assert.equal(await acquireLease(kv, "b", 3000, 5000), false);
  assert.equal(await acquireLease(kv, "b", 3000, 5600), true); // a stopped renewing: b takes over
  assert.equal(await acquireLease(kv, "a", 3000, 5700), false);
  await releaseLease(kv, "a"); // not a's to release
  assert.equal(await acquireLease(kv, "a", 3000, 5800), false);
  await releaseLease(kv, "b");
  assert.equal(await acquireLease(kv, "a", 3000, 5900), true);
});

Deno.test("concurrent attempts on a free lease: exactly one wins", async () => {
  using kv = await Deno.openKv(":memory:");
  const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => acquireLease(kv, `o${i}`, 3000, 0)));
  assert.equal(wins.filter(Boolean).length, 1);
});

Deno.test("a lease long expired is removed by the chores", async () => {
  using kv = await Deno.openKv(":memory:");
  await acquireLease(kv, "dead", 3000, 0);
  assert.equal(await removeExpiredLease(kv, 10_000, 60_000), false);
  assert.equal(await removeExpiredLease(kv, 70_000, 60_000), true);
  assert.equal(await acquireLease(kv, "next", 3000, 70_000), true);
});
