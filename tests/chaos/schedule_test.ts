/**
 * The chaos schedule replays from its seed and keeps to the limits that make a violation bbblb's: one
 * server-wide fault per server at a time with a gap between, short outages below the failover delay, long ones
 * above it, at most two servers faulty at once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Prng } from "./prng.ts";
import {
  clientOps,
  type Fault,
  planFaults,
  SERVER_GAP_MS,
  shortOutageMaxMs,
  type Timing,
  type Universe,
} from "./schedule.ts";

const U: Universe = { servers: 5, tenants: ["", "law", "med"], meetingIDs: ["a", "b", "c"], clients: 3 };
const T: Timing = { pollMs: 1000, backendTimeoutMs: 2000, failoverDelayMs: 10_000, createTimeoutMs: 4000 };

const take = <T>(it: Iterator<T>, n: number) => Array.from({ length: n }, () => it.next().value as T);

Deno.test("one seed gives the same faults and client operations every time, another seed others", () => {
  assert.deepEqual(planFaults(7, 120_000, U, T), planFaults(7, 120_000, U, T));
  assert.notDeepEqual(planFaults(7, 120_000, U, T), planFaults(8, 120_000, U, T));
  assert.deepEqual(take(clientOps(7, 1, U), 50), take(clientOps(7, 1, U), 50));
  assert.notDeepEqual(take(clientOps(7, 1, U), 50), take(clientOps(7, 2, U), 50));
});

Deno.test("a longer run replays the faults of a shorter one with the same seed first", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) {
    const short = planFaults(seed, 60_000, U, T).filter((f) => f.kind !== "second");
    const long = planFaults(seed, 600_000, U, T).filter((f) => f.kind !== "second" && f.at < 60_000);
    // killServe picks instance B only while B runs (a share of the run's length), so the instance may differ.
    const strip = (fs: Fault[]) => fs.map((f) => f.kind === "killServe" ? { ...f, instance: 0 } : f);
    assert.deepEqual(strip(short), strip(long));
  }
});

Deno.test("server-wide faults never overlap on one server and keep a gap; at most two servers are down at once", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const faults = planFaults(seed, 600_000, U, T);
    const spans = faults.flatMap((f) => {
      switch (f.kind) {
        case "outage":
          return [{ server: f.server, from: f.at, to: f.at + f.durationMs, down: true }];
        case "listFails":
        case "lateCreates":
          return [{ server: f.server, from: f.at, to: f.at + f.durationMs, down: false }];
        case "restart":
          return [{ server: f.server, from: f.at, to: f.at + f.downMs, down: true }];
        default:
          return [];
      }
    });
    assert.ok(spans.length > 100, `seed ${seed}: ${spans.length} server-wide faults`);
    for (const a of spans) {
      for (const b of spans) {
        if (a === b || a.from > b.from) continue;
        if (a.server === b.server) {
          assert.ok(b.from >= a.to + SERVER_GAP_MS, `seed ${seed}: ${JSON.stringify([a, b])}`);
        }
      }
      const down = spans.filter((s) => s.down && s.from <= a.from && a.from < s.to);
      assert.ok(down.length <= 2, `seed ${seed}: ${down.length} servers down at ${a.from}`);
    }
  }
});

Deno.test("short outages stay below the failover delay with its margins, long ones last longer than it", () => {
  const outages = [1, 2, 3].flatMap((seed) => planFaults(seed, 600_000, U, T))
    .filter((f) => f.kind === "outage");
  const short = outages.filter((f) => !f.long);
  const long = outages.filter((f) => f.long);
  assert.ok(short.length > 50 && long.length > 10);
  for (const f of short) {
    assert.ok(f.durationMs <= shortOutageMaxMs(T) && !f.wipe);
    // the streak of failures of a short outage: at most its length, a poll interval and a hanging round
    assert.ok(f.durationMs + T.pollMs + T.backendTimeoutMs < T.failoverDelayMs);
  }
  for (const f of long) assert.ok(f.durationMs >= T.failoverDelayMs + 3000);
  assert.throws(() => planFaults(1, 60_000, U, { ...T, failoverDelayMs: 6000 }), /no short outages/);
});

Deno.test("the generator gives the same numbers for the same seed, within the asked ranges", () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const xs = Array.from({ length: 1000 }, () => a.int(3, 9));
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b.int(3, 9)));
  assert.deepEqual(new Set(xs), new Set([3, 4, 5, 6, 7, 8, 9]));
  const picks = Array.from({ length: 3000 }, () => a.weighted({ x: 1, y: 2, never: 0 }));
  assert.ok(!picks.includes("never"));
  const ys = picks.filter((p) => p === "y").length;
  assert.ok(ys > 1800 && ys < 2200, `${ys} of 3000 picks of weight 2/3`);
});
