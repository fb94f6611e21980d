/**
 * An in-memory view of what a `join` needs — which server runs a meeting, that server's URL, secret and health —
 * so that the hot path of bbblb touches no store at all (measured on 2 cores: one KV read takes ~200 µs, more
 * than a whole join may add).
 *
 * Staleness is bounded, never open-ended:
 * - the servers (records and health) are re-read at most `serversMs` after the last read (default 1 s), so an
 *   admin change made by another process (set-server, remove-server) reaches joins within that time;
 * - a running meeting is remembered for at most `meetingMs` (default 1 s): a meeting moved or ended by another
 *   process is seen within that time;
 * - changes made in this process forget what they touch at once: the API forgets a meetingID after every call
 *   that may change it, a failed call to a server and every poll round forget the servers.
 *
 * Only meetings that run are remembered; one being created, and an unknown meetingID, are always read from the
 * store (a meeting created a moment ago by another instance is found at once).
 *
 * @module
 */
import { getMeeting, type MeetingRecord } from "../store/meetings.ts";
import { listServers, type ServerHealth, type ServerRecord } from "../store/servers.ts";

/** A server as a join needs it. */
export interface DirectoryServer {
  server: ServerRecord;
  health: ServerHealth;
}

/** Options of {@linkcode Directory}. */
export interface DirectoryOptions {
  /** Longest age of the server snapshot, in ms. @default 1000 */
  serversMs?: number;
  /** Longest time a running meeting is remembered, in ms. @default 1000 */
  meetingMs?: number;
  /** Most meetings remembered at once (the oldest are forgotten first). @default 100 000 */
  maxMeetings?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/** The in-memory view; see the module documentation for how stale it can be. */
export class Directory {
  readonly #kv: Deno.Kv;
  readonly #serversMs: number;
  readonly #meetingMs: number;
  readonly #maxMeetings: number;
  readonly #now: () => number;
  #servers: Map<number, DirectoryServer> | null = null;
  #serversAt = 0;
  #loading: Promise<Map<number, DirectoryServer>> | null = null;
  /** Bumped by {@linkcode Directory.forgetServers}, so a read started before it is not kept. */
  #serversEpoch = 0;
  readonly #meetings = new Map<string, { entry: Deno.KvEntry<MeetingRecord>; at: number }>();

  /**
   * @param kv the store the view is read from
   */
  constructor(kv: Deno.Kv, options: DirectoryOptions = {}) {
    this.#kv = kv;
    this.#serversMs = options.serversMs ?? 1000;
    this.#meetingMs = options.meetingMs ?? 1000;
    this.#maxMeetings = options.maxMeetings ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A server with its health, from a snapshot at most `serversMs` old (re-read from the store when older), or
   * `null` when no such server is registered.
   */
  async server(id: number): Promise<DirectoryServer | null> {
    if (this.#servers === null || this.#now() - this.#serversAt > this.#serversMs) {
      await this.#reloadServers();
    }
    return this.#servers!.get(id) ?? null;
  }

  /**
   * The running instance of a meetingID: remembered for at most `meetingMs`, else read from the store. `null`
   * when the store has no record; an entry that is still being created is returned but not remembered.
   */
  async meeting(tenant: string, meetingID: string): Promise<Deno.KvEntryMaybe<MeetingRecord>> {
    const ref = `${tenant}\u0000${meetingID}`;
    const now = this.#now();
    const hit = this.#meetings.get(ref);
    if (hit && now - hit.at <= this.#meetingMs) return hit.entry;
    const entry = await getMeeting(this.#kv, tenant, meetingID);
    this.#meetings.delete(ref);
    if (entry.value?.status === "running") {
      if (this.#meetings.size >= this.#maxMeetings) {
        this.#meetings.delete(this.#meetings.keys().next().value!);
      }
      this.#meetings.set(ref, { entry: entry as Deno.KvEntry<MeetingRecord>, at: now });
    }
    return entry;
  }

  /** Forget a meetingID (this process changed it, or may have). */
  forgetMeeting(tenant: string, meetingID: string): void {
    this.#meetings.delete(`${tenant}\u0000${meetingID}`);
  }

  /** Forget the servers (a failed call changed a server's health, or a poll round did). */
  forgetServers(): void {
    this.#servers = null;
    this.#loading = null;
    this.#serversEpoch++;
  }

  /** Forget everything (after a poll round, which may end, adopt or repair any meeting). */
  forgetAll(): void {
    this.forgetServers();
    this.#meetings.clear();
  }

  /** How many meetings are remembered (for tests and metrics). */
  get rememberedMeetings(): number {
    return this.#meetings.size;
  }

  async #reloadServers(): Promise<void> {
    // Concurrent joins after expiry share one read; a forget during the read starts a new one.
    let loading = this.#loading;
    if (!loading) {
      const epoch = this.#serversEpoch;
      const at = this.#now();
      loading = this.#loading = listServers(this.#kv).then((views) => {
        const map = new Map<number, DirectoryServer>();
        for (const v of views) {
          const {
            health,
            online: _o,
            placeable: _p,
            loadMilli: _l,
            loadVersionstamp: _v,
            stats: _s,
            ...server
          } = v;
          map.set(v.id, { server, health });
        }
        if (epoch === this.#serversEpoch) {
          this.#servers = map;
          this.#serversAt = at;
        }
        return map;
      }).finally(() => {
        if (this.#loading === loading) this.#loading = null;
      });
    }
    const map = await loading;
    if (this.#servers === null) {
      // Forgotten during the read: this call uses what was read, the next one reads again.
      this.#servers = map;
      this.#serversAt = -Infinity;
    }
  }
}
