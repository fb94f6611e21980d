/**
 * The history of a chaos run: every client operation with bbblb's answer, every fault, every serve start and
 * stop, every violation, in order, with the time since the start. On a violation the run prints the part of it
 * that concerns the meeting and servers involved, and writes all of it to a file.
 *
 * @module
 */

/** What an entry is: a client operation, a fault, a serve start or stop, a check, a violation, a serve log line. */
export type EntryKind = "op" | "fault" | "serve" | "check" | "violation" | "log";

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
   * The entries that led to a violation about `refs` and `servers`: the operations, checks and log lines about
   * those meetings, the faults about them or those servers, server log lines about those servers, and every
   * serve start or stop and violation — the last `limit` of them up to time `until` (ms since the start).
   */
  about(refs: readonly string[], servers: readonly number[], limit = 80, until = Infinity): Entry[] {
    const ref = (e: Entry) => e.refs.some((r) => refs.includes(r));
    const server = (e: Entry) => e.servers.some((s) => servers.includes(s));
    const hit = this.entries.filter((e) => {
      if (e.t > until) return false;
      switch (e.kind) {
        case "serve":
        case "violation":
          return true;
        case "fault":
          return ref(e) || server(e);
        case "log":
          return ref(e) || (e.refs.length === 0 && server(e));
        default:
          return ref(e);
      }
    });
    return hit.slice(-limit);
  }

  /**
   * Add the state-change lines of a serve log (`text` format; not its one line per API call) as `log` entries,
   * so a violation's history shows what bbblb decided (placed, moved, ended, split, offline).
   *
   * @param refOf the meeting ref of a meetingID as a server knows it (scoped for a tenant)
   */
  importLog(actor: string, text: string, refOf: (backendID: string) => string): void {
    for (const line of text.split("\n")) {
      const m = line.match(/^(\d{4}-\d\d-\d\dT[\d:.]+Z) (\w+) (.*)$/);
      if (!m || m[3].startsWith("api ")) continue;
      const id = m[3].match(/\bmeetingID=("[^"]*"|\S+)/)?.[1]?.replace(/^"|"$/g, "");
      const tenant = m[3].match(/\btenant=(\S+)/)?.[1];
      const refs = id === undefined ? [] : [tenant && !id.includes("~") ? `${tenant}/${id}` : refOf(id)];
      const servers = [...m[3].matchAll(/\b(?:server|from|to|current)=(\d+)/g)].map((x) => Number(x[1]));
      this.entries.push({
        t: Date.parse(m[1]) - this.#start,
        kind: "log",
        actor,
        text: `${m[2]} ${m[3]}`,
        refs,
        servers,
      });
    }
    this.entries.sort((a, b) => a.t - b.t);
  }

  /** One line per entry. */
  static format(entries: readonly Entry[]): string {
    return entries.map((e) => `${(e.t / 1000).toFixed(3).padStart(8)}s ${e.actor.padEnd(7)} ${e.text}`)
      .join("\n");
  }
}
