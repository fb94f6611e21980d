/**
 * The poller loop of `bbblb serve`: while this instance holds the lease, run a round, then sleep for the poll
 * interval (after the round, so slow rounds never overlap), until aborted. Minute-level chores run under
 * `Deno.cron`.
 *
 * @module
 */
import type { MeetingRecord } from "../store/meetings.ts";
import { listUnsettledClaims } from "../store/meetings.ts";
import { storeProblem } from "../store/kv.ts";
import { acquireLease, releaseLease, removeExpiredLease } from "../store/lease.ts";
import { newPollState, type PollDeps, pollRound, type RoundReport } from "./round.ts";

/** Options of {@linkcode runPoller}. */
export interface PollerOptions extends PollDeps {
  /** Seconds between the end of one round and the start of the next. */
  intervalMs: number;
  /** This instance's id, for the lease. */
  owner: string;
  /** Stops the loop. */
  signal: AbortSignal;
  /** Called after every round this instance ran (metrics, tests). */
  onRound?: (report: RoundReport) => void;
}

/**
 * Run until `signal` aborts. Holds the lease for three intervals and renews it every round, so when the
 * polling instance dies another takes over within about three intervals.
 */
export async function runPoller(options: PollerOptions): Promise<void> {
  const ttl = Math.max(3 * options.intervalMs, 3000);
  let holding = false;
  // Counted from this process's start: nothing is ended before every server was polled twice.
  const state = options.state ?? newPollState();
  while (!options.signal.aborted) {
    try {
      const held = await acquireLease(options.kv, options.owner, ttl, Date.now());
      if (held !== holding) options.log.info(held ? "polling (this instance holds the lease)" : "lease lost");
      holding = held;
      if (held) {
        const report = await pollRound({ ...options, state });
        const { serverDurationsMs: _, ...summary } = report;
        options.log.debug("poll round", summary);
        options.onRound?.(report);
      }
    } catch (e) {
      if (options.signal.aborted) break;
      options.log.error("poll round failed", {
        error: storeProblem(e) ?? String((e as Error)?.message ?? e),
      });
    }
    await sleep(options.intervalMs, options.signal);
  }
  if (holding) await releaseLease(options.kv, options.owner).catch(() => {});
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Options of {@linkcode runChores}. */
export interface ChoreOptions {
  kv: Deno.Kv;
  /** A claim still `creating` after this long (ms) was abandoned by a crashed request. */
  staleClaimMs: number;
  /**
   * Settles one claim by asking its server (`settleClaim` of `cluster/lifecycle.ts`): tracked as running,
   * released, or left pending while its server does not answer and is not gone.
   */
  settle: (claim: Deno.KvEntry<MeetingRecord>) => Promise<"running" | "released" | "pending">;
  log: PollDeps["log"];
  now?: number;
}

/**
 * The minute-level chores: settle claims nobody else will (in doubt, or left by a process killed during a
 * create) by asking their servers, and remove a lease left by a crashed poller. Safe to run in every instance at
 * once: each change is guarded.
 *
 * @returns how many claims were settled (tracked as running or released)
 */
export async function runChores(options: ChoreOptions): Promise<{ staleClaims: number }> {
  const now = options.now ?? Date.now();
  let staleClaims = 0;
  for (const claim of await listUnsettledClaims(options.kv, options.staleClaimMs, now)) {
    if (await options.settle(claim) !== "pending") staleClaims++;
  }
  if (staleClaims > 0) options.log.warn("settled claims left in flight", { count: staleClaims });
  await removeExpiredLease(options.kv, now, 60_000);
  return { staleClaims };
}
