/**
 * What the front-ends believe about each meeting, from bbblb's answers alone: running after a successful create
 * or move, ended after a successful end (or `notFound` on end). An answer that does not say what happened (a
 * timeout, a broken connection, `serverUnavailable` on create or end) makes the belief unknown, and so does an
 * operation that overlapped another one that changes the meeting, since their order is then unknown. A meeting
 * whose every copy a server restart wiped counts as ended (issue 13). Rule 2 holds bbblb to the meetings
 * believed running.
 *
 * @module
 */

/** A belief about one meeting. */
export type Belief = "running" | "ended" | "unknown";

/** What the front-ends believe, by meeting ref. */
export class Beliefs {
  readonly #belief = new Map<string, Belief>();
  readonly #inFlight = new Map<string, number>();
  /** When the last operation that changes the meeting finished, by ref. */
  readonly #lastDone = new Map<string, number>();

  /** An operation that may change the meeting begins; returns its start time. */
  begin(ref: string): number {
    this.#inFlight.set(ref, (this.#inFlight.get(ref) ?? 0) + 1);
    return Date.now();
  }

  /**
   * The operation begun at `startedAt` finished; `outcome` is what its answer says, null when the answer says
   * nothing changed (a refusal such as `idNotUnique`).
   */
  done(ref: string, startedAt: number, outcome: Belief | null): void {
    const inFlight = this.#inFlight.get(ref)! - 1;
    this.#inFlight.set(ref, inFlight);
    if (outcome === null) return;
    const overlapped = inFlight > 0 || (this.#lastDone.get(ref) ?? 0) >= startedAt;
    this.#lastDone.set(ref, Date.now());
    this.#belief.set(ref, overlapped ? "unknown" : outcome);
  }

  /** Every copy of the meeting was wiped by a server restart: it counts as ended. */
  wiped(ref: string): void {
    if (this.#belief.get(ref) === "running") this.#belief.set(ref, "ended");
  }

  /** The meetings believed running. */
  running(): string[] {
    return [...this.#belief].filter(([, b]) => b === "running").map(([ref]) => ref);
  }

  /** The belief about one meeting (`ended` when nothing was ever said). */
  of(ref: string): Belief {
    return this.#belief.get(ref) ?? "ended";
  }
}
