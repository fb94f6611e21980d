/**
 * The request deadline (`--request-timeout`) of a BBB API call.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { BbbError } from "../../bbb/errors.ts";
import type { AppEnv } from "./env.ts";

/**
 * Deadlines share one timer per tick of this many ms, and a request gets a place in a tick only if it is still
 * running after the turn of the event loop it started in (a join answered from memory never is): most requests
 * cost no timer of their own. A deadline fires at most this much late.
 */
const TICK_MS = 50;

/** A request still running: when its deadline falls (ms since the epoch), and how it fails then. */
interface Waiter {
  at: number;
  fail: () => void;
  /** Its tick, once it has one. */
  tick?: Tick;
}

/** The requests whose deadline falls in one tick, and the one timer that fails them. */
interface Tick {
  at: number;
  timer: ReturnType<typeof setTimeout>;
  waiting: Set<Waiter>;
}

const ticks = new Map<number, Tick>();
/** Requests started in this turn of the event loop, placed in their ticks at its end if still running. */
let unplaced = new Set<Waiter>();
let placing: ReturnType<typeof setTimeout> | null = null;

function placeAll(): void {
  placing = null;
  const batch = unplaced;
  unplaced = new Set();
  for (const waiter of batch) {
    const at = Math.ceil(waiter.at / TICK_MS);
    let tick = ticks.get(at);
    if (!tick) {
      const waiting = new Set<Waiter>();
      const timer = setTimeout(() => {
        ticks.delete(at);
        for (const w of waiting) w.fail();
      }, Math.max(0, at * TICK_MS - Date.now()));
      tick = { at, timer, waiting };
      ticks.set(at, tick);
    }
    tick.waiting.add(waiter);
    waiter.tick = tick;
  }
}

function settle(waiter: Waiter): void {
  unplaced.delete(waiter);
  const tick = waiter.tick;
  if (!tick) return;
  tick.waiting.delete(waiter);
  if (tick.waiting.size === 0 && ticks.get(tick.at) === tick) {
    clearTimeout(tick.timer);
    ticks.delete(tick.at);
  }
}

/**
 * Run `work`, but fail with `serverUnavailable` once `ms` have passed (at most {@linkcode TICK_MS} later). The
 * work goes on in the background (its own timeouts bound it), and its late failure is dropped rather than left
 * unhandled.
 *
 * @throws {BbbError} `serverUnavailable` at the deadline, or whatever `work` throws before it
 */
export function withinDeadline<T>(ms: number, work: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const waiter: Waiter = { at: Date.now() + ms, fail: () => reject(deadlineError(ms)) };
    unplaced.add(waiter);
    placing ??= setTimeout(placeAll, 0);
    work().then(
      (value) => {
        settle(waiter);
        resolve(value);
      },
      (error) => {
        settle(waiter);
        reject(error);
      },
    );
  });
}

function deadlineError(ms: number): BbbError {
  return new BbbError(
    "serverUnavailable",
    `bbblb could not answer within ${ms / 1000} s (a BBB server or the client is too slow); try again.`,
  );
}

/**
 * Answer FAILED `serverUnavailable` when the rest of the pipeline has not answered within its deadline: `slowMs`
 * for the calls that may create a meeting (`slowCalls`), `ms` for the others. What the call started still
 * finishes, or is released, in the background.
 */
export function deadline(
  options: { ms: number; slowMs: number; slowCalls: ReadonlySet<string> },
): MiddlewareHandler<
  AppEnv
> {
  return async (c, next) => {
    const ms = options.slowCalls.has(c.req.param("call") ?? "") ? options.slowMs : options.ms;
    // The answer is the one the rest of the pipeline set; at the deadline, the error handler's.
    await withinDeadline(ms, next);
  };
}
