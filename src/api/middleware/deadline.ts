/**
 * The request deadline (`--request-timeout`) of a BBB API call.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { BbbError } from "../../bbb/errors.ts";
import type { AppEnv } from "./env.ts";

/**
 * Deadlines share one timer per tick of this many ms: a request that finishes in time (nearly all) costs no timer
 * of its own; a deadline fires at most this much late.
 */
const TICK_MS = 50;

/** The requests still running whose deadline falls in one tick, and the one timer that fails them. */
interface Tick {
  timer: ReturnType<typeof setTimeout>;
  /** Each still running request's way to fail with its own deadline's error. */
  waiting: Set<() => void>;
}

const ticks = new Map<number, Tick>();

/**
 * Run `work`, but fail with `serverUnavailable` once `ms` have passed (at most {@linkcode TICK_MS} later). The
 * work goes on in the background (its own timeouts bound it), and its late failure is dropped rather than left
 * unhandled.
 *
 * @throws {BbbError} `serverUnavailable` at the deadline, or whatever `work` throws before it
 */
export function withinDeadline<T>(ms: number, work: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const tickAt = Math.ceil((Date.now() + ms) / TICK_MS);
    let tick = ticks.get(tickAt);
    if (!tick) {
      const waiting = new Set<() => void>();
      const timer = setTimeout(() => {
        ticks.delete(tickAt);
        for (const fail of waiting) fail();
      }, tickAt * TICK_MS - Date.now());
      tick = { timer, waiting };
      ticks.set(tickAt, tick);
    }
    const { waiting, timer } = tick;
    const fail = () => reject(deadlineError(ms));
    waiting.add(fail);
    const done = () => {
      waiting.delete(fail);
      if (waiting.size === 0 && ticks.get(tickAt)?.timer === timer) {
        clearTimeout(timer);
        ticks.delete(tickAt);
      }
    };
    work().then(
      (value) => {
        done();
        resolve(value);
      },
      (error) => {
        done();
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
