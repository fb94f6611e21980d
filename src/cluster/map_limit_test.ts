/**
 * Tests of the bounded fan-out: never more calls in flight than the limit, results in the order of the items
 * whatever order the calls finish in, and every item called exactly once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mapLimit } from "./map_limit.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("mapLimit() never has more calls in flight than its limit, and uses the limit fully", async () => {
  let inFlight = 0;
  let most = 0;
  const items = Array.from({ length: 20 }, (_, i) => i);
  await mapLimit(items, 4, async (i) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await delay((i * 7) % 5);
    inFlight--;
    return i;
  });
  assert.equal(most, 4);
  assert.equal(inFlight, 0);
});

Deno.test("mapLimit() keeps the order of the items, whatever order the calls finish in", async () => {
  const items = ["slow", "fast", "medium", "instant", "slow2"];
  const took: Record<string, number> = { slow: 30, fast: 5, medium: 15, instant: 0, slow2: 25 };
  const finished: string[] = [];
  const results = await mapLimit(items, 3, async (item) => {
    await delay(took[item]);
    finished.push(item);
    return item.toUpperCase();
  });
  assert.deepEqual(results, ["SLOW", "FAST", "MEDIUM", "INSTANT", "SLOW2"]);
  assert.notDeepEqual(finished, items, "the calls really finished out of order");
});

Deno.test("mapLimit() calls every item exactly once, also with a limit above the number of items", async () => {
  const calls: number[] = [];
  const results = await mapLimit([1, 2, 3], 50, (n) => {
    calls.push(n);
    return Promise.resolve(n * 10);
  });
  assert.deepEqual(results, [10, 20, 30]);
  assert.deepEqual(calls.sort(), [1, 2, 3]);
  assert.deepEqual(await mapLimit([], 5, () => Promise.resolve(1)), []);
});

Deno.test("mapLimit() with a limit of 1 runs the calls one after another, in order", async () => {
  const log: string[] = [];
  await mapLimit(["a", "b", "c"], 1, async (x) => {
    log.push(`start ${x}`);
    await delay(2);
    log.push(`end ${x}`);
  });
  assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
});

Deno.test("mapLimit() rejects with the error of a failing call", async () => {
  await assert.rejects(
    mapLimit(
      [1, 2, 3],
      2,
      (n) => n === 2 ? Promise.reject(new Error("server 2 failed")) : Promise.resolve(n),
    ),
    /server 2 failed/,
  );
});
