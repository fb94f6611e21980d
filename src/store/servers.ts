/**
 * Servers in the store: registration, admin state, health, and the snapshot that placement works on.
 *
 * @module
 */
import type { ChecksumAlgorithm } from "../bbb/checksum.ts";
import { commitWithRetry } from "./kv.ts";
import { keys } from "./keys.ts";
import { loadOf, loadValue } from "./load.ts";

/**
 * The admin's state of a server (Scalelite's terms). Only `enabled` servers get new meetings; meetings already
 * on `cordoned` and `disabled` servers keep working; `panic` is set while meetings are moved away.
 */
export type ServerState = "enabled" | "cordoned" | "disabled" | "panic";

/** All server states. */
export const SERVER_STATES: readonly ServerState[] = ["enabled", "cordoned", "disabled", "panic"];

/** A BBB server as the admin registered it. */
export interface ServerRecord {
  /** The admin's id, a non-negative integer (the `serverID` of the custom API). */
  id: number;
  /** API base, ending in `/bigbluebutton/api/`. */
  apiUrl: string;
  /** The server's shared secret. Never printed or logged. */
  secret: string;
  /** Relative capacity; a server of weight 2 takes twice the load of one of weight 1. */
  weight: number;
  /** The admin's state. */
  state: ServerState;
  /** What bbblb signs its calls to this server with. */
  checksum: ChecksumAlgorithm;
  /** When it was added (ms since the epoch). */
  addedAt: number;
  /**
   * Tags for placement (Scalelite's server tags): meetings asking for one of them with `meta_server-tag` go
   * here; meetings asking for none never do. Absent or empty: untagged.
   */
  tags?: string[];
  /**
   * Most meetings bbblb places there (`add-server --max-meetings`); absent or `null`: no cap. Meetings created
   * directly on the server and adopted by the poller count too, but are never refused. Added after schema
   * version 3 was set; absent in older records, which means no cap (see `schema.ts`).
   */
  maxMeetings?: number | null;
  /**
   * What bbblb signs its calls to the server's webhooks module (`hooks/create`, `hooks/destroy`) with
   * (`--hooks-checksum`); absent: SHA-1, the only one bbb-webhooks 2.6 accepts (3.0 accepts all four).
   */
  hooksChecksum?: ChecksumAlgorithm;
  /** The BBB version the operator gave (`--bbb-version`, e.g. `3.0`); absent or `null`: not given. */
  configuredVersion?: string | null;
  /**
   * The BBB version the server revealed in its API root (`bbbVersion`, only with `allowRevealOfBBBVersion=true`),
   * as the poller last read it; absent or `null`: not revealed.
   */
  revealedVersion?: string | null;
}

/**
 * The BBB version bbblb goes by for a server: the one it revealed, else the one the operator gave, else `null`
 * (unknown: it matches any version in placement).
 */
export function serverVersion(s: Pick<ServerRecord, "configuredVersion" | "revealedVersion">): string | null {
  return s.revealedVersion || s.configuredVersion || null;
}

/** Where {@linkcode serverVersion} comes from: `revealed`, `configured` or `null`. */
export function versionSource(
  s: Pick<ServerRecord, "configuredVersion" | "revealedVersion">,
): "revealed" | "configured" | null {
  return s.revealedVersion ? "revealed" : s.configuredVersion ? "configured" : null;
}

/**
 * What bbblb observed about a server's health. Kept apart from {@linkcode ServerRecord} so that admin writes
 * and health writes never overwrite each other.
 */
export interface ServerHealth {
  /** Online until `failThreshold` consecutive failures; online again after `recoverThreshold` good polls. */
  online: boolean;
  /** Out of placement after any failure, until the next good poll. */
  excluded: boolean;
  /** Consecutive failed poll rounds and request-path calls. */
  failures: number;
  /** Consecutive good poll rounds. */
  successes: number;
  /** The last failure, without secrets; `null` after a good poll. */
  lastError: string | null;
  /** When the last good poll ended (ms since the epoch), or `null`. */
  lastGoodPoll: number | null;
  /**
   * When the current streak of failures began (ms since the epoch): the first failed poll or call since the
   * server last gave a valid BBB answer; `null` (or absent, in records written before it existed) while it
   * answers. Failover waits for `--failover-delay` from here (see `isGone`).
   */
  failingSince?: number | null;
}

/** Health of a newly added server: `add-server` just checked it. */
export const NEW_SERVER_HEALTH: ServerHealth = {
  online: true,
  excluded: false,
  failures: 0,
  successes: 0,
  lastError: null,
  lastGoodPoll: null,
  failingSince: null,
};

/** Numbers the poller keeps per server for placement, statistics and `list-servers`. */
export interface ServerStats {
  /** Participants in all meetings listed by the server (breakout rooms included). */
  participants: number;
  /** Video streams in all meetings listed by the server. */
  videos: number;
  /**
   * Load above the declared load, in milli-units: the sum over bbblb's meetings there of
   * max(0, live participants + video streams − declared load). Placement adds it to the declared load.
   */
  extraMilli: number;
}

const NO_STATS: ServerStats = { participants: 0, videos: 0, extraMilli: 0 };

/** A server with its health and load, as placement and `list-servers` see it. */
export interface ServerView extends ServerRecord {
  /** Health as last recorded. */
  health: ServerHealth;
  /** Whether the server is online (not offline after repeated failures). */
  online: boolean;
  /** Whether the server may take new meetings as far as health goes: online and not excluded. */
  placeable: boolean;
  /** Sum of the declared load of its meetings, in milli-units. */
  loadMilli: number;
  /** Versionstamp of the load sum as read, so a claim can check nobody changed it since. */
  loadVersionstamp: string | null;
  /** The poller's live numbers. */
  stats: ServerStats;
  /**
   * Meetings bbblb holds there (running or being created), counted only for a server with a cap (up to the cap),
   * else `null`. It is as fresh as `loadVersionstamp`: every meeting added or removed changes the load too.
   */
  meetingCount: number | null;
}

/** Whether a server has reached its meeting cap. */
export function isFull(s: Pick<ServerView, "maxMeetings" | "meetingCount">): boolean {
  return s.maxMeetings != null && (s.meetingCount ?? 0) >= s.maxMeetings;
}

/**
 * Add to `op` the bump of the servers' version (see `keys.serversVersion`): every change to a server that
 * placement must see at once goes through this.
 */
export function bumpServersVersion(op: Deno.AtomicOperation): Deno.AtomicOperation {
  return op.sum(keys.serversVersion(), 1n);
}

/** The versionstamp of the servers' version (`null` before the first change), for a claim to check. */
export async function serversVersionstamp(kv: Deno.Kv): Promise<string | null> {
  return (await kv.get(keys.serversVersion())).versionstamp;
}

/** Thrown for admin mistakes, with a sentence for the operator. */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreError";
  }
}

/**
 * Register a server. Its load starts at 0.
 *
 * @throws {StoreError} when the id is taken.
 */
export async function addServer(kv: Deno.Kv, server: ServerRecord): Promise<void> {
  const res = await commitWithRetry(() =>
    bumpServersVersion(
      kv.atomic()
        .check({ key: keys.server(server.id), versionstamp: null })
        .set(keys.server(server.id), server)
        .set(keys.health(server.id), NEW_SERVER_HEALTH)
        .set(keys.load(server.id), loadValue(0)),
    )
  );
  if (!res.ok) throw new StoreError(`server ${server.id} already exists`);
}

/** One server, or `null`. */
export async function getServer(kv: Deno.Kv, id: number): Promise<ServerRecord | null> {
  return (await kv.get<ServerRecord>(keys.server(id))).value;
}

/** One server's record with its versionstamp (for a change guarded on it), or `null`. */
export async function getServerEntry(kv: Deno.Kv, id: number): Promise<Deno.KvEntry<ServerRecord> | null> {
  const entry = await kv.get<ServerRecord>(keys.server(id));
  return entry.value ? entry as Deno.KvEntry<ServerRecord> : null;
}

/** One server with its health, or `null`. One read. */
export async function getServerWithHealth(
  kv: Deno.Kv,
  id: number,
): Promise<{ server: ServerRecord; health: ServerHealth } | null> {
  const [server, health] = await kv.getMany<[ServerRecord, ServerHealth]>([keys.server(id), keys.health(id)]);
  return server.value ? { server: server.value, health: health.value ?? NEW_SERVER_HEALTH } : null;
}

/**
 * Change a server's admin state.
 *
 * @throws {StoreError} when there is no such server.
 */
export async function setServerState(kv: Deno.Kv, id: number, state: ServerState): Promise<void> {
  for (;;) {
    const entry = await kv.get<ServerRecord>(keys.server(id));
    if (!entry.value) throw new StoreError(`there is no server ${id}`);
    const res = await commitWithRetry(() =>
      bumpServersVersion(kv.atomic().check(entry).set(entry.key, { ...entry.value!, state }))
    );
    if (res.ok) return;
  }
}

/**
 * Change a server's registration (URL, secret, weight, checksum, tags, meeting cap). The id and state stay.
 *
 * @throws {StoreError} when there is no such server
 */
export async function updateServer(
  kv: Deno.Kv,
  id: number,
  change: Partial<
    Pick<
      ServerRecord,
      | "apiUrl"
      | "secret"
      | "weight"
      | "checksum"
      | "tags"
      | "maxMeetings"
      | "hooksChecksum"
      | "configuredVersion"
      | "revealedVersion"
    >
  >,
): Promise<ServerRecord> {
  for (;;) {
    const entry = await kv.get<ServerRecord>(keys.server(id));
    if (!entry.value) throw new StoreError(`there is no server ${id}`);
    const updated = { ...entry.value, ...change };
    const res = await commitWithRetry(() =>
      bumpServersVersion(kv.atomic().check(entry).set(entry.key, updated))
    );
    if (res.ok) return updated;
  }
}

/**
 * Count the meetings bbblb has placed on a server (running or being created).
 *
 * @param limit stop counting there (placement only needs to know whether a cap is reached)
 */
export async function countMeetingsOn(kv: Deno.Kv, id: number, limit?: number): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: keys.meetingsByServer(id) }, { limit })) n++;
  return n;
}

/**
 * All servers with health, load and live numbers, ordered by id. Reads four prefixes; no per-server round trips.
 */
export async function listServers(kv: Deno.Kv): Promise<ServerView[]> {
  const [servers, healths, loads, stats] = await Promise.all([
    collect<ServerRecord>(kv, keys.servers()),
    collect<ServerHealth>(kv, keys.healths()),
    collect<Deno.KvU64>(kv, keys.loads()),
    collect<ServerStats>(kv, keys.serverStatsAll()),
  ]);
  return await Promise.all([...servers.values()].map(async ({ value: s }) => {
    const health = healths.get(s.id)?.value ?? NEW_SERVER_HEALTH;
    const load = loads.get(s.id);
    return {
      ...s,
      health,
      online: health.online,
      placeable: health.online && !health.excluded,
      loadMilli: load ? loadOf(load) : 0,
      loadVersionstamp: load?.versionstamp ?? null,
      stats: stats.get(s.id)?.value ?? NO_STATS,
      meetingCount: s.maxMeetings != null ? await countMeetingsOn(kv, s.id, s.maxMeetings) : null,
    };
  }));
}

async function collect<T>(kv: Deno.Kv, prefix: Deno.KvKey): Promise<Map<number, Deno.KvEntry<T>>> {
  const out = new Map<number, Deno.KvEntry<T>>();
  for await (const e of kv.list<T>({ prefix })) out.set(e.key[1] as number, e);
  return out;
}

/** A change of a server's health between online and offline, as committed. */
export interface HealthTransition {
  before: ServerHealth;
  after: ServerHealth;
}

/**
 * Record a failed call on the request path. It counts as a failed poll round: the server leaves placement until
 * its next good poll, and goes offline at `failThreshold` consecutive failures.
 *
 * @param reason what failed, without secrets
 * @returns the health before and after, when this call committed a change; `null` otherwise
 */
export async function markFailure(
  kv: Deno.Kv,
  id: number,
  reason: string,
  failThreshold: number,
  now: number = Date.now(),
): Promise<HealthTransition | null> {
  return await updateHealth(kv, id, (h) => failedHealth(h, reason, failThreshold, now));
}

/**
 * Record that a server gave a valid BBB answer outside a poll round (a probe): its failure streak ends, so
 * failover waits again (see `isGone`). Whether it is online is still the poller's decision.
 */
export async function markAnswered(kv: Deno.Kv, id: number): Promise<void> {
  await updateHealth(kv, id, (h) => (h.failingSince == null && h.failures === 0 ? h : answeredHealth(h)));
}

/** Health after one more failure at `now` (ms since the epoch). */
export function failedHealth(
  h: ServerHealth,
  reason: string,
  failThreshold: number,
  now: number,
): ServerHealth {
  const failures = h.failures + 1;
  return {
    ...h,
    online: h.online && failures < failThreshold,
    excluded: true,
    failures,
    successes: 0,
    lastError: reason,
    failingSince: h.failingSince ?? now,
  };
}

/** Health after a valid BBB answer outside a poll round: the failure streak is over, nothing else changes. */
export function answeredHealth(h: ServerHealth): ServerHealth {
  return { ...h, failures: 0, failingSince: null };
}

/** Health after one more good poll round, which ended at `now`. */
export function goodHealth(h: ServerHealth, recoverThreshold: number, now: number): ServerHealth {
  const successes = h.successes + 1;
  return {
    online: h.online || successes >= recoverThreshold,
    excluded: false,
    failures: 0,
    successes,
    lastError: null,
    lastGoodPoll: now,
    failingSince: null,
  };
}

/**
 * Whether a server is gone: offline, and without a valid BBB answer for `failoverDelayMs` since its failure
 * streak began. Only then may its meetings be re-created elsewhere (after a probe of the meeting fails too, see
 * `cluster/lifecycle.ts`). A server whose streak start is unknown (a record from before it was kept) is not
 * gone until a new failure starts a streak.
 */
export function isGone(h: ServerHealth, now: number, failoverDelayMs: number): boolean {
  return !h.online && h.failingSince != null && now - h.failingSince >= failoverDelayMs;
}

async function updateHealth(
  kv: Deno.Kv,
  id: number,
  change: (h: ServerHealth) => ServerHealth,
): Promise<HealthTransition | null> {
  for (let i = 0; i < 10; i++) {
    const [entry, server] = await kv.getMany<[ServerHealth, ServerRecord]>([
      keys.health(id),
      keys.server(id),
    ]);
    if (server.versionstamp === null) return null; // removed meanwhile: no health for a server that is gone
    const before = entry.value ?? NEW_SERVER_HEALTH;
    const after = change(before);
    if (after === before) return null;
    const res = await commitWithRetry(() =>
      bumpServersVersion(kv.atomic().check(entry).check(server).set(entry.key, after))
    );
    if (res.ok) return { before, after };
  }
  return null;
}

/**
 * Remove a server.
 *
 * @param force also forget the meetings bbblb placed there (they are not ended; their history is kept)
 * @throws {StoreError} when there is no such server, or meetings run there and `force` is not set.
 */
export async function removeServer(kv: Deno.Kv, id: number, force: boolean): Promise<{ forgotten: number }> {
  const removed = await getServer(kv, id);
  if (!removed) throw new StoreError(`there is no server ${id}`);
  const index = await Array.fromAsync(kv.list<string>({ prefix: keys.meetingsByServer(id) }));
  if (index.length > 0 && !force) {
    throw new StoreError(
      `server ${id} still has ${index.length} running meeting(s): drain it with bbblb cordon ${id} or move them ` +
        `with bbblb panic ${id}; --force forgets them (they are not ended)`,
    );
  }
  const now = Date.now();
  let forgotten = 0;
  for (const e of index) {
    const [, , tenant, meetingID] = e.key as [string, number, string, string];
    const meeting = await kv.get<{ serverId: number; historyId: string }>(keys.meeting(tenant, meetingID));
    const history = await kv.get<Record<string, unknown>>(keys.history(e.value));
    const res = await commitWithRetry(() => {
      const op = kv.atomic().delete(e.key);
      if (meeting.value?.serverId === id) op.check(meeting).delete(meeting.key);
      if (history.value) op.set(history.key, { ...history.value, endedAt: now, endReason: "serverRemoved" });
      return op;
    });
    if (res.ok) forgotten++;
  }
  // Kept a while: recordings it is still processing are uploaded signed with its secret (see RemovedServer).
  const tombstone: RemovedServer = {
    id,
    apiUrl: removed.apiUrl,
    secret: removed.secret,
    addedAt: removed.addedAt,
    removedAt: now,
  };
  await commitWithRetry(() =>
    bumpServersVersion(
      kv.atomic().delete(keys.server(id)).delete(keys.health(id)).delete(keys.load(id)).delete(
        keys.serverStats(id),
      ).set(keys.removedServer(id, removed.addedAt), tombstone, { expireIn: REMOVED_SERVER_KEPT_MS }),
    )
  );
  return { forgotten };
}

/**
 * A removed server as bbblb keeps it after `remove-server`: its URL and secret, so that recordings it signed
 * and uploads after its removal are still accepted (`--recordings-upload-grace-days`). Never printed or logged.
 */
export interface RemovedServer {
  id: number;
  apiUrl: string;
  secret: string;
  addedAt: number;
  /** When it was removed (ms since the epoch). */
  removedAt: number;
}

/** How long a removed server's record is kept at most: the largest `--recordings-upload-grace-days`, 90 days. */
export const REMOVED_SERVER_KEPT_MS = 90 * 24 * 3600 * 1000;

/** Servers removed at or after `since` (ms since the epoch), most recently removed first. */
export async function listRemovedServers(kv: Deno.Kv, since: number): Promise<RemovedServer[]> {
  const all = await Array.fromAsync(kv.list<RemovedServer>({ prefix: keys.removedServers() }));
  return all.map((e) => e.value).filter((s) => s.removedAt >= since).sort((a, b) =>
    b.removedAt - a.removedAt
  );
}

/** Disable a server that is still cordoned (Scalelite's drain, once it is empty). @returns whether it did */
export async function disableCordoned(kv: Deno.Kv, id: number): Promise<boolean> {
  const entry = await kv.get<ServerRecord>(keys.server(id));
  if (entry.value?.state !== "cordoned") return false;
  const res = await commitWithRetry(() =>
    bumpServersVersion(kv.atomic().check(entry).set(entry.key, { ...entry.value!, state: "disabled" }))
  );
  return res.ok;
}

/** Save a server's stats from a poll round; nothing is written (and no cache invalidated) when they are the same. */
export async function writeServerStats(kv: Deno.Kv, id: number, stats: ServerStats): Promise<void> {
  const key = keys.serverStats(id);
  const old = (await kv.get<ServerStats>(key)).value;
  const same = old !== null && old.participants === stats.participants && old.videos === stats.videos &&
    old.extraMilli === stats.extraMilli;
  if (!same) await commitWithRetry(() => bumpServersVersion(kv.atomic().set(key, stats)));
}

/** A health change a poll round wants to write: from what the round read to what it found. */
export interface HealthWrite {
  id: number;
  from: ServerHealth;
  to: ServerHealth;
}

/**
 * Write a round's health changes, 40 servers per atomic operation. Only a value still equal to what the round
 * read is replaced (a request-path failure written in between wins); a batch that lost a race is skipped (the
 * next round corrects it).
 *
 * @returns the changes written (for logging each turn once) and how many batches lost a race
 */
export async function writeRoundHealth(
  kv: Deno.Kv,
  writes: HealthWrite[],
): Promise<{ applied: HealthWrite[]; lostBatches: number }> {
  const applied: HealthWrite[] = [];
  let lostBatches = 0;
  const changed = writes.filter((w) => JSON.stringify(w.from) !== JSON.stringify(w.to));
  for (let i = 0; i < changed.length; i += 40) {
    const batch = changed.slice(i, i + 40);
    const entries = await Promise.all(batch.map((w) => kv.get<ServerHealth>(keys.health(w.id))));
    const unchanged = batch.filter((w, j) => JSON.stringify(entries[j].value) === JSON.stringify(w.from));
    const res = await commitWithRetry(() => {
      const op = bumpServersVersion(kv.atomic());
      batch.forEach((w, j) => {
        if (unchanged.includes(w)) op.check(entries[j]).set(entries[j].key, w.to);
      });
      return op;
    });
    if (res.ok) applied.push(...unchanged);
    else lostBatches++;
  }
  return { applied, lostBatches };
}
