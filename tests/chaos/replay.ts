/**
 * One chaos run as a test: it must end without a violation; when it does not, the assertion message is the
 * run's whole output (the violations, the history that led to them, where the logs are kept).
 *
 * @module
 */
import assert from "node:assert/strict";
import { runChaos } from "./run.ts";

/**
 * Run the chaos run with `seed` for `seconds` (quiet phase included) and assert it found no violation and did
 * some work.
 */
export async function assertChaosClean(seed: number, seconds: number): Promise<void> {
  const lines: string[] = [];
  const result = await runChaos({ seed, seconds, print: (line) => lines.push(line) });
  assert.equal(result.violations.length, 0, lines.join("\n"));
  assert.ok(result.operations > 0 && result.faults > 0, result.summary);
}
