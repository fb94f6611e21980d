/**
 * The per-server load sums: `Deno.KvU64` values changed with atomic `sum`, so that removing or moving a meeting
 * never contends with other writers on the load key (a read-check-write would, under bursts).
 *
 * `sum` only adds, modulo 2^64: a decrement adds 2^64 − x. That is exact only if every change is applied exactly
 * once, which is why every call here goes into an atomic operation that also checks the meeting's own record
 * (DESIGN.md §2). A claim still checks the load's versionstamp: it must not place a meeting on a load that changed
 * since placement read it.
 *
 * @module
 */
import { keys } from "./keys.ts";
import { commitWithRetry } from "./kv.ts";

const MOD = 1n << 64n;

/** The load sum of an entry in milli-units (0 when absent). */
export function loadOf(entry: Deno.KvEntryMaybe<Deno.KvU64>): number {
  return entry.value === null ? 0 : Number(entry.value.value);
}

/** A load sum to `set`. */
export function loadValue(milli: number): Deno.KvU64 {
  return new Deno.KvU64(BigInt(milli));
}

/** Add `milli` (which may be negative) to a server's load sum within `op`. */
export function addLoad(op: Deno.AtomicOperation, serverId: number, milli: number): Deno.AtomicOperation {
  const delta = BigInt(milli);
  return op.sum(keys.load(serverId), delta >= 0n ? delta : MOD + delta);
}

/**
 * Set a server's load sum to `milli` if it is unchanged since it was read (`versionstamp`, `null` when it had
 * none): any claim, removal or move in between changes it, and then nothing is written.
 *
 * @returns whether the sum was set
 */
export async function repairLoad(
  kv: Deno.Kv,
  serverId: number,
  versionstamp: string | null,
  milli: number,
): Promise<boolean> {
  const res = await commitWithRetry(() =>
    kv.atomic().check({ key: keys.load(serverId), versionstamp }).set(keys.load(serverId), loadValue(milli))
  );
  return res.ok;
}
