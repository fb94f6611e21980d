/**
 * What the chaos run itself is doing, for the checker's allowances: which servers have a fault active (and
 * since when they are clean), which meetings a client operation or a fault is touching, which copies a move or
 * a panic is ending, and when a serve instance last started.
 *
 * @module
 */
import type { Activity } from "./checker.ts";
import type { Mark } from "./rounds.ts";

/** Marks the current moment (a round clock's `mark`). */
type MarkFn = () => Mark;

/** The run's own doings; implements the checker's {@linkcode Activity}. */
export class ActivityLog implements Activity {
  readonly #mark: MarkFn;
  readonly #faults = new Map<number, number>();
  readonly #clean = new Map<number, Mark>();
  readonly #busy = new Map<string, number>();
  readonly #last = new Map<string, Mark>();
  readonly #moving = new Map<string, number>();
  readonly #panicking = new Map<number, number>();
  #serveStart: Mark;

  /** @param servers the server ids */
  constructor(mark: MarkFn, servers: Iterable<number>) {
    this.#mark = mark;
    const now = mark();
    for (const s of servers) this.#clean.set(s, now);
    this.#serveStart = now;
  }

  /** A fault on `server` begins; returns the function that ends it (call it once). */
  fault(server: number): () => void {
    this.#faults.set(server, (this.#faults.get(server) ?? 0) + 1);
    this.#clean.delete(server);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = this.#faults.get(server)! - 1;
      this.#faults.set(server, left);
      if (left === 0) this.#clean.set(server, this.#mark());
    };
  }

  /** Whether any fault is active on `server`. */
  faulty(server: number): boolean {
    return (this.#faults.get(server) ?? 0) > 0;
  }

  /** An operation on the meeting begins; returns the function that ends it (call it once). */
  begin(ref: string, options: { moving?: boolean } = {}): () => void {
    this.#busy.set(ref, (this.#busy.get(ref) ?? 0) + 1);
    this.#last.set(ref, this.#mark());
    if (options.moving) this.#moving.set(ref, (this.#moving.get(ref) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#busy.set(ref, this.#busy.get(ref)! - 1);
      if (options.moving) this.#moving.set(ref, this.#moving.get(ref)! - 1);
      this.#last.set(ref, this.#mark());
    };
  }

  /** Something happened to the meeting at once (a copy created or wiped directly). */
  touch(ref: string): void {
    this.#last.set(ref, this.#mark());
  }

  /** A panic of `server` begins; returns the function that ends it. */
  panic(server: number): () => void {
    this.#panicking.set(server, (this.#panicking.get(server) ?? 0) + 1);
    return () => this.#panicking.set(server, this.#panicking.get(server)! - 1);
  }

  /** A serve instance started. */
  serveStarted(): void {
    this.#serveStart = this.#mark();
  }

  cleanSince(server: number): Mark | null {
    return this.#clean.get(server) ?? null;
  }

  touched(ref: string): { busy: boolean; last: Mark | null } {
    return { busy: (this.#busy.get(ref) ?? 0) > 0, last: this.#last.get(ref) ?? null };
  }

  leaving(ref: string, server: number): boolean {
    return (this.#moving.get(ref) ?? 0) > 0 || (this.#panicking.get(server) ?? 0) > 0;
  }

  lastServeStart(): Mark {
    return this.#serveStart;
  }
}
