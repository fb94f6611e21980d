import assert from "node:assert/strict";
import { type Candidate, rankServers } from "./placement.ts";

const server = (id: number, loadMilli: number, extra: Partial<Candidate> = {}): Candidate => ({
  id,
  weight: 1,
  state: "enabled",
  placeable: true,
  loadMilli,
  ...extra,
});

Deno.test("rankServers() puts the server with the lowest load per weight first", () => {
  const ranked = rankServers([server(1, 5000), server(2, 8000, { weight: 4 }), server(3, 3000)]);
  assert.deepEqual(ranked.map((s) => s.id), [2, 3, 1]); // 2000, 3000, 5000 per unit of weight
});

Deno.test("rankServers() counts the live load above the declared load", () => {
  const ranked = rankServers([server(1, 1000, { extraMilli: 299_000 }), server(2, 5000)]);
  assert.deepEqual(ranked.map((s) => s.id), [2, 1]);
});

Deno.test("rankServers() leaves out servers that are not enabled, offline or excluded", () => {
  const ranked = rankServers(
    [
      server(1, 0, { state: "disabled" }),
      server(2, 0, { state: "cordoned" }),
      server(3, 0, { state: "panic" }),
      server(4, 0, { placeable: false }),
      server(5, 9000),
      server(6, 0),
    ],
    new Set([6]),
  );
  assert.deepEqual(ranked.map((s) => s.id), [5]);
  assert.deepEqual(rankServers([server(1, 0, { state: "disabled" })]), []);
});

Deno.test("rankServers() breaks ties at random, so equal servers share a burst", () => {
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(rankServers([server(1, 0), server(2, 0), server(3, 0)])[0].id);
  assert.deepEqual([...seen].sort(), [1, 2, 3]);
  // with a fixed random source the order is deterministic
  const values = [0.9, 0.1, 0.5];
  let i = 0;
  assert.deepEqual(
    rankServers([server(1, 0), server(2, 0), server(3, 0)], new Set(), () => values[i++]).map((s) => s.id),
    [
      2,
      3,
      1,
    ],
  );
});
