/**
 * Fan-out calls (getMeetings, routed getRecordings) that answer within the fan-out timeout however slow one
 * server is, and the last meeting list of each server that stands in for a server that did not answer in time.
 *
 * A call to a late server is not cut short: it goes on in the background within the backend timeout, so its
 * failure still counts toward taking the server offline (see `callServer`).
 *
 * @module
 */
import { mapLimit } from "./map_limit.ts";

/** Default of the fan-out timeout (`--fanout-timeout`), in ms. */
export const DEFAULT_FANOUT_TIMEOUT_MS = 2000;

/** What one server of a fan-out gave: its answer, its error, or nothing yet when the fan-out timeout passed. */
export type FanOutResult<T> =
  | { status: "fulfilled"; value: T }
  | { status: "rejected"; reason: unknown }
  | { status: "late" };

/**
 * Call `ask` for every item, at most `limit` at a time, and return once all are done or `timeoutMs` have
 * passed, whichever comes first: the results in the order of `items`, `late` for those not done by then
 * (including those still queued behind the limit). Never throws; `ask`'s errors are `rejected` results.
 */
export async function fanOut<S, T>(
  items: readonly S[],
  options: { limit: number; timeoutMs: number },
  ask: (item: S) => Promise<T>,
): Promise<FanOutResult<T>[]> {
  const results: FanOutResult<T>[] = items.map(() => ({ status: "late" }));
  const indexed = items.map((item, i) => ({ item, i }));
  const all = mapLimit(indexed, options.limit, async ({ item, i }) => {
    try {
      results[i] = { status: "fulfilled", value: await ask(item) };
    } catch (reason) {
      results[i] = { status: "rejected", reason };
    }
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([all, new Promise<void>((resolve) => timer = setTimeout(resolve, options.timeoutMs))]);
  clearTimeout(timer);
  // A copy: answers arriving later must not change what the caller is reading.
  return results.slice();
}

/** A server's last successful getMeetings answer: its XML text and when it arrived (ms since the epoch). */
export interface MeetingList {
  text: string;
  at: number;
}

/**
 * The last successful getMeetings answer of each server, kept in memory by this process (fed by its poll rounds
 * and its own getMeetings fan-outs), so getMeetings can list a server that does not answer within the fan-out
 * timeout with what it listed last. One string per server (the XML as the server sent it); a server's entry is
 * replaced by its next answer and dropped with {@linkcode MeetingLists.forget}.
 */
export class MeetingLists {
  #lists = new Map<number, MeetingList>();

  /** Keep `text` as server `serverId`'s latest meeting list. */
  remember(serverId: number, text: string, at: number = Date.now()): void {
    this.#lists.set(serverId, { text, at });
  }

  /** Server `serverId`'s latest meeting list, if this process has one. */
  get(serverId: number): MeetingList | undefined {
    return this.#lists.get(serverId);
  }

  /** Drop every list of a server not in `serverIds` (servers that were removed). */
  keepOnly(serverIds: ReadonlySet<number>): void {
    for (const id of this.#lists.keys()) if (!serverIds.has(id)) this.#lists.delete(id);
  }
}
