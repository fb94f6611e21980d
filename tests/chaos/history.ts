/**
 * The history of a chaos run: every client operation with bbblb's answer, every fault, every serve start and
 * stop, every violation, in order, with the time since the start. On a violation the run prints the part of it
 * that concerns the meeting and servers involved, and writes all of it to a file.
 *
 * @module
 */

/** What an entry is. */
export type EntryKind = "op" | "fault" | "serve" | "check" | "violation";

/** One entry. */
export interface Entry {
  /** ms since the start of the run. */
  t: number;
  kind: EntryKind;
  /** Who: a client (`c2`), `faults`, `serve`, `checker`. */
  actor: string;
  text: string;
  /** The meetings it concerns, as `tenant/meetingID` refs. */
  refs: string[];
  /** The servers it concerns. */
  servers: number[];
}

/** A meeting ref as the history and the checker spell it: `default:room-1`, `law:room-1`. */
export function label(ref: string): string {
  const at = ref.indexOf("/");
  return `${ref.slice(0, at) || "default"}:${ref.slice(at + 1)}`;
}

/** The history of one run. */
export class History {
  readonly entries: Entry[] = [];
  readonly #start: number;

  /** @param start when the run started (ms since the epoch) */
  constructor(start: number) {
    this.#start = start;
  }

  /** Add an entry; returns it. */
  add(
    kind: EntryKind,
    actor: string,
    text: string,
    about: { refs?: string[]; servers?: number[] } = {},
  ): Entry {
    const entry = {
      t: Date.now() - this.#start,
      kind,
      actor,
      text,
      refs: about.refs ?? [],
      servers: about.servers ?? [],
    };
    this.entries.push(entry);
    return entry;
  }

  /** Count of entries of a kind. */
  count(kind: EntryKind): number {
    return this.entries.filter((e) => e.kind === kind).length;
  }

  /**
   * The entries that concern any of `refs` or `servers`, plus every serve event and violation, up to the last
   * `limit` of them before time `until` (ms since the start; default: all).
   */
  about(refs: readonly string[], servers: readonly number[], limit = 80, until = Infinity): Entry[] {
    const hit = this.entries.filter((e) =>
      e.t <= until &&
      (e.kind === "serve" || e.kind === "violation" || e.refs.some((r) => refs.includes(r)) ||
        e.servers.some((s) => servers.includes(s)))
    );
    return hit.slice(-limit);
  }

  /** One line per entry. */
  static format(entries: readonly Entry[]): string {
    return entries.map((e) => `${(e.t / 1000).toFixed(3).padStart(8)}s ${e.actor.padEnd(7)} ${e.text}`)
      .join("\n");
  }
}
