/**
 * Per-process placement state, so that a burst of creates in one process neither races itself nor re-reads the
 * whole cluster for every meeting.
 *
 * A claim checks the chosen server's load entry (DESIGN.md §2), so two creates that chose the same server from
 * the same snapshot cannot both commit: one retries. Within one process the {@linkcode Placer} takes that race
 * away: placements take turns (only the choice and the claim commit; the call to BBB happens outside), and each
 * works on a snapshot of the servers that the claims of this process keep current — a successful claim knows the
 * new load and the new versionstamp of its server. A claim also checks the servers' version, which every admin
 * change, health change and poll round bumps: so a claim made on an outdated snapshot fails, whichever process
 * changed what. A failed claim drops the snapshot, and the next turn reads the store again. The snapshot is
 * never older than `maxAgeMs` either.
 *
 * @module
 */
import { listServers, serversVersionstamp, type ServerView } from "../store/servers.ts";

/** What placement decides on: the servers, and the versionstamp of the servers' version they were read at. */
export interface ServerSnapshot {
  servers: ServerView[];
  /** A claim checks it: any change to a server since the read makes the claim fail (see `keys.serversVersion`). */
  versionstamp: string | null;
  /** Read from the store for this placement (not kept from an earlier one). */
  fresh: boolean;
}

/** Read a snapshot from the store (the version first, so a change during the read fails the claim). */
export async function readSnapshot(kv: Deno.Kv): Promise<ServerSnapshot> {
  const versionstamp = await serversVersionstamp(kv);
  return { servers: await listServers(kv), versionstamp, fresh: true };
}

/** Options of {@linkcode Placer}. */
export interface PlacerOptions {
  /** Longest age of the snapshot, in ms. @default 1000 */
  maxAgeMs?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/** See the module documentation. */
export class Placer {
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #turn: Promise<void> = Promise.resolve();
  #snapshot: ServerSnapshot | null = null;
  #at = 0;

  constructor(options: PlacerOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Run `fn` in this process's placement turn (one at a time, in arrival order) with the current snapshot of the
   * servers; `fn` reports what its claim did with `claimed` or `forget`.
   */
  async turn<T>(kv: Deno.Kv, fn: (snapshot: ServerSnapshot) => Promise<T>): Promise<T> {
    const previous = this.#turn;
    let release!: () => void;
    this.#turn = new Promise((r) => release = r);
    await previous;
    try {
      if (this.#snapshot === null || this.#now() - this.#at > this.#maxAgeMs) {
        const at = this.#now();
        const snapshot = await readSnapshot(kv);
        this.#snapshot = snapshot;
        this.#at = at;
        return await fn(snapshot);
      }
      return await fn({ ...this.#snapshot, fresh: false });
    } finally {
      release();
    }
  }

  /**
   * A claim on `serverId` committed: its load is now `loadMilli` with this versionstamp (a claim's commit
   * changes the load entry, so the commit's versionstamp is the entry's), and it holds one meeting more.
   */
  claimed(serverId: number, loadMilli: number, versionstamp: string): void {
    const s = this.#snapshot?.servers.find((v) => v.id === serverId);
    if (s) {
      s.loadMilli = loadMilli;
      s.loadVersionstamp = versionstamp;
      if (s.meetingCount !== null) s.meetingCount++;
    }
  }

  /** The snapshot may be wrong (a claim failed, a server failed): the next turn reads the store. */
  forget(): void {
    this.#snapshot = null;
  }
}
