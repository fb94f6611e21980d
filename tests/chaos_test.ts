/**
 * The chaos run (issue 13, `tests/chaos/run.ts`) as part of the suite: one seeded run of 50 s against
 * `./bbblb serve` with faults must end without a violation. A failure prints the run's output: the violations,
 * the history that led to them, and where the whole history and the serve logs are kept. The seeds that found
 * violations are replayed by `chaos_regressions_test.ts`.
 *
 * @module
 */
import { assertChaosClean } from "./chaos/replay.ts";

Deno.test("a seeded 50 s chaos run against serve ends with no violation", async () => {
  await assertChaosClean(20_260_101, 50);
});
