/**
 * Overdue meetings: BBB ends a meeting when its `duration` (minutes, from its start) has passed, but not always —
 * lost users keep it alive, a server may ignore it, a meeting created directly on a server may run for ever. The
 * poller ends a meeting that runs longer than its `duration` plus a grace period (`--overdue-grace-minutes`),
 * and logs each one. The duration is the one the server lists for the meeting: for meetings bbblb placed, the
 * one bbblb forwarded (a tenant's `cap` rule sets it). A meeting without a duration (0) is never overdue.
 *
 * @module
 */
import { callBackend } from "../bbb/client.ts";
import { encodeQuery } from "../bbb/query.ts";
import type { Logger } from "../log.ts";
import type { ServerView } from "../store/servers.ts";

/** What the decision needs of a meeting as a server listed it. */
export interface ListedDuration {
  /** `duration` in minutes; 0: none. */
  duration: number;
  /** `startTime` (else `createTime`) in ms since the epoch, or `null` when the server gave none. */
  startedAt: number | null;
  /** Breakout rooms end with their parent and keep their own timer in BBB: never judged here. */
  isBreakout: boolean;
}

/** The default of `--overdue-grace-minutes`. */
export const DEFAULT_OVERDUE_GRACE_MINUTES = 10;

/**
 * By how many ms a meeting has overrun its duration plus `graceMinutes` at `now`, or `null` when it has not (or
 * has no duration, no start time, or is a breakout room).
 *
 * @example
 * ```ts
 * import { overdueBy } from "./overdue.ts";
 * const start = Date.UTC(2026, 0, 1);
 * const m = { duration: 60, startedAt: start, isBreakout: false };
 * // 60 minutes plus 10 of grace: not overdue at 69 minutes, overdue by one minute at 71
 * if (overdueBy(m, start + 69 * 60_000, 10) !== null) throw new Error("early");
 * if (overdueBy(m, start + 71 * 60_000, 10) !== 60_000) throw new Error("late");
 * ```
 */
export function overdueBy(m: ListedDuration, now: number, graceMinutes: number): number | null {
  if (m.isBreakout || m.duration <= 0 || m.startedAt === null || m.startedAt <= 0) return null;
  const over = now - (m.startedAt + (m.duration + graceMinutes) * 60_000);
  return over > 0 ? over : null;
}

/** A listed meeting the poller may end: what {@linkcode overdueBy} needs, and what `end` needs. */
export interface OverdueCandidate extends ListedDuration {
  meetingID: string;
  moderatorPW: string | null;
}

/** What {@linkcode endOverdueMeetings} needs. */
export interface OverdueDeps {
  backendTimeoutMs: number;
  fetch?: typeof fetch;
  log: Logger;
  /** `--overdue-grace-minutes`. @default {@linkcode DEFAULT_OVERDUE_GRACE_MINUTES} */
  overdueGraceMinutes?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * End the meetings a server lists that are overdue (see {@linkcode overdueBy}), logging each at `warn`. A failed
 * `end` is logged and tried again next round; the meeting leaves bbblb's records when the server stops listing
 * it, as any ended meeting.
 *
 * @returns how many `end` calls the server accepted
 */
export async function endOverdueMeetings(
  deps: OverdueDeps,
  server: ServerView,
  listed: readonly OverdueCandidate[],
): Promise<number> {
  const now = (deps.now ?? Date.now)();
  const grace = deps.overdueGraceMinutes ?? DEFAULT_OVERDUE_GRACE_MINUTES;
  let ended = 0;
  for (const m of listed) {
    const over = overdueBy(m, now, grace);
    if (over === null) continue;
    const params: [string, string][] = [["meetingID", m.meetingID]];
    if (m.moderatorPW) params.push(["password", m.moderatorPW]);
    const fields = {
      meetingID: m.meetingID,
      server: server.id,
      duration: m.duration,
      overdueMinutes: Math.round(over / 60_000),
    };
    try {
      const answer = await callBackend(server, "end", encodeQuery(params), {
        timeoutMs: deps.backendTimeoutMs,
        fetch: deps.fetch,
      });
      if (answer.response.returncode === "SUCCESS") {
        ended++;
        deps.log.warn("overdue meeting ended: it ran past its duration and the grace period", fields);
      } else {
        deps.log.warn("could not end an overdue meeting", {
          ...fields,
          messageKey: answer.response.messageKey,
        });
      }
    } catch (e) {
      deps.log.warn("could not end an overdue meeting", {
        ...fields,
        error: String((e as Error).message ?? e),
      });
    }
  }
  return ended;
}
