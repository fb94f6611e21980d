/**
 * The chaos run (issue 13, `tests/chaos/run.ts`) as part of the suite: one seeded run of 50 s against
 * `./bbblb serve` with faults, and a short replay of every seed with which a run ever found a violation (each
 * with the violation it found, fixed since). A failure prints the run's output: the violations, the history
 * that led to them, and where the whole history and the serve logs are kept.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runChaos } from "./chaos/run.ts";

/** Seeds with which runs found violations, replayed for `seconds` each (quiet phase included). */
export const REGRESSIONS: { seed: number; seconds: number; found: string }[] = [];

async function assertClean(seed: number, seconds: number): Promise<void> {
  const lines: string[] = [];
  const result = await runChaos({ seed, seconds, print: (line) => lines.push(line) });
  assert.equal(result.violations.length, 0, lines.join("\n"));
  assert.ok(result.operations > 0 && result.faults > 0, result.summary);
}

Deno.test("a seeded 50 s chaos run against serve ends with no violation", async () => {
  await assertClean(20_260_101, 50);
});

for (const { seed, seconds, found } of REGRESSIONS) {
  Deno.test(`chaos seed ${seed} (${seconds} s) no longer finds: ${found}`, async () => {
    await assertClean(seed, seconds);
  });
}
