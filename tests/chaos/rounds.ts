/**
 * Poll rounds as the fake servers saw them, the clock of the checker's allowances ("healed within two rounds").
 * A round of bbblb's poller sends one getMeetings to every server, so each server's count of getMeetings calls
 * counts the rounds that reached it — whichever serve instance polls, and with no round counted while none does.
 * bbblb also calls getMeetings for a client's `getMeetings`; calls that arrive while a client's getMeetings is in
 * flight are not counted (that can only delay a deadline, never bring it forward).
 *
 * @module
 */
import type { FakeBbb } from "../fake_bbb.ts";

/** A moment of the run: the time and every server's round count then. */
export interface Mark {
  /** ms since the epoch. */
  at: number;
  /** Rounds by server id (index 0 unused). */
  rounds: readonly number[];
}

/** Counts poll rounds per fake server; server ids are 1..fakes.length. */
export class RoundClock {
  readonly #fakes: readonly FakeBbb[];
  readonly #pollMs: number;
  readonly #scanned: number[];
  readonly #rounds: number[];
  /** Client getMeetings calls: start and end (undefined while in flight), ms since the epoch. */
  readonly #windows: { start: number; end?: number }[] = [];

  /** @param pollMs the poll interval: a deadline of k rounds is never shorter than k intervals */
  constructor(fakes: readonly FakeBbb[], pollMs: number) {
    this.#fakes = fakes;
    this.#pollMs = pollMs;
    this.#scanned = new Array(fakes.length + 1).fill(0);
    this.#rounds = new Array(fakes.length + 1).fill(0);
  }

  /** Call before a client's getMeetings; call the returned function when its answer arrived. */
  clientListing(): () => void {
    const window: { start: number; end?: number } = { start: Date.now() };
    this.#windows.push(window);
    return () => window.end = Date.now();
  }

  #excluded(at: number): boolean {
    return this.#windows.some((w) => w.start <= at && (w.end === undefined || at <= w.end + 50));
  }

  /** Count the getMeetings calls that arrived since the last call. */
  update(): void {
    this.#fakes.forEach((fake, i) => {
      const id = i + 1;
      const requests = fake.requests;
      for (; this.#scanned[id] < requests.length; this.#scanned[id]++) {
        const r = requests[this.#scanned[id]];
        if (r.call === "getMeetings" && !this.#excluded(r.at)) this.#rounds[id]++;
      }
    });
  }

  /** The current moment. */
  mark(): Mark {
    this.update();
    return { at: Date.now(), rounds: [...this.#rounds] };
  }

  /** Rounds that reached `server` since `mark`. */
  roundsSince(mark: Mark, server: number): number {
    return this.#rounds[server] - mark.rounds[server];
  }

  /**
   * Whether at least `k` rounds reached each of `servers` since `mark`, and `k` poll intervals have passed.
   * Counting from a mark in the middle of a round, pass one more than the rounds the rule allows.
   */
  elapsed(mark: Mark, servers: Iterable<number>, k: number): boolean {
    if (Date.now() - mark.at < k * this.#pollMs) return false;
    for (const s of servers) if (this.roundsSince(mark, s) < k) return false;
    return true;
  }
}
