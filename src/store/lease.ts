/**
 * The poller lease: several `bbblb serve` on one store, exactly one polls at a time. A lease is a record
 * `{ owner, until }` taken and renewed with a `check`, so two instances never both believe they hold it.
 * (`expireIn` is lazy and is not used for this; see DESIGN.md §2.)
 *
 * @module
 */
import { keys } from "./keys.ts";
import { commitWithRetry } from "./kv.ts";

/** The lease record. */
export interface Lease {
  /** Instance id of the holder. */
  owner: string;
  /** The lease is valid until this time (ms since the epoch). */
  until: number;
}

/**
 * Take the lease if it is free or expired, or renew it if `owner` holds it.
 *
 * @param ttlMs how long the lease lasts from `now`
 * @returns whether `owner` holds the lease now
 */
export async function acquireLease(kv: Deno.Kv, owner: string, ttlMs: number, now: number): Promise<boolean> {
  const entry = await kv.get<Lease>(keys.pollerLease());
  const lease = entry.value;
  if (lease && lease.owner !== owner && lease.until > now) return false;
  const res = await commitWithRetry(() =>
    kv.atomic().check(entry).set(entry.key, { owner, until: now + ttlMs })
  );
  return res.ok;
}

/** Give the lease up (at shutdown), so another instance takes over at once. */
export async function releaseLease(kv: Deno.Kv, owner: string): Promise<void> {
  const entry = await kv.get<Lease>(keys.pollerLease());
  if (entry.value?.owner !== owner) return;
  await commitWithRetry(() => kv.atomic().check(entry).delete(entry.key));
}

/** Delete a lease that expired long ago (a crashed holder), so the store shows no stale owner. */
export async function removeExpiredLease(kv: Deno.Kv, now: number, graceMs: number): Promise<boolean> {
  const entry = await kv.get<Lease>(keys.pollerLease());
  if (!entry.value || entry.value.until + graceMs > now) return false;
  return (await commitWithRetry(() => kv.atomic().check(entry).delete(entry.key))).ok;
}
