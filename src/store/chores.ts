/**
 * Minute chores that several instances run but only one should do each minute (retention's purges): a claim per
 * chore and minute, `["chore_run", name, minute]`, taken by exactly one instance.
 *
 * @module
 */
import { keys } from "./keys.ts";
import { commitWithRetry } from "./kv.ts";

/**
 * Claim this minute's run of a chore: of several instances (and of several calls in one minute), exactly one
 * claim of a `name` succeeds per minute. Claims expire after a day.
 *
 * @returns whether this caller runs it
 */
export async function claimChoreRun(kv: Deno.Kv, name: string, now: number = Date.now()): Promise<boolean> {
  const key = keys.choreRun(name, Math.floor(now / 60_000));
  const res = await commitWithRetry(() =>
    kv.atomic().check({ key, versionstamp: null }).set(key, true, { expireIn: 24 * 3600_000 })
  );
  return res.ok;
}
