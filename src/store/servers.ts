/**
 * Servers in the store: registration, admin state, health, and the snapshot that placement works on.
 *
 * @module
 */
import type { ChecksumAlgorithm } from "../bbb/checksum.ts";
import { commitWithRetry } from "./kv.ts";
import { keys } from "./keys.ts";

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
}

/** What bbblb observed about a server's health. Kept apart from {@linkcode ServerRecord} so that admin writes
 * and health writes never overwrite each other. */
export interface ServerHealth {
  /** Not in placement until this time (ms since the epoch); 0 when healthy. */
  excludedUntil: number;
  /** Consecutive failed calls or rounds. */
  failures: number;
  /** The last failure, without secrets; `null` after a success. */
  lastError: string | null;
  /** When a call last succeeded (ms since the epoch), or `null`. */
  lastGoodAt: number | null;
}

/** How long a failed call keeps a server out of placement (ms), until the poller decides instead. */
export const EXCLUSION_MS = 10_000;

const HEALTHY: ServerHealth = { excludedUntil: 0, failures: 0, lastError: null, lastGoodAt: null };

/** A server with its health and load, as placement and `list-servers` see it. */
export interface ServerView extends ServerRecord {
  /** Health as last recorded. */
  health: ServerHealth;
  /** Whether the server may be called now (not excluded after a failure). */
  online: boolean;
  /** Sum of the declared load of its meetings, in milli-units. */
  loadMilli: number;
  /** Versionstamp of the load sum as read, so a claim can check nobody changed it since. */
  loadVersionstamp: string | null;
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
    kv.atomic()
      .check({ key: keys.server(server.id), versionstamp: null })
      .set(keys.server(server.id), server)
      .set(keys.health(server.id), HEALTHY)
      .set(keys.load(server.id), 0)
  );
  if (!res.ok) throw new StoreError(`server ${server.id} already exists`);
}

/** One server, or `null`. */
export async function getServer(kv: Deno.Kv, id: number): Promise<ServerRecord | null> {
  return (await kv.get<ServerRecord>(keys.server(id))).value;
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
      kv.atomic().check(entry).set(entry.key, { ...entry.value!, state })
    );
    if (res.ok) return;
  }
}

/** Count the meetings bbblb has placed on a server (running or being created). */
export async function countMeetingsOn(kv: Deno.Kv, id: number): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: keys.meetingsByServer(id) })) n++;
  return n;
}

/**
 * All servers with health and load, ordered by id. Reads three prefixes; no per-server round trips.
 *
 * @param now the current time in ms, to decide `online`
 */
export async function listServers(kv: Deno.Kv, now: number = Date.now()): Promise<ServerView[]> {
  const [servers, healths, loads] = await Promise.all([
    collect<ServerRecord>(kv, keys.servers()),
    collect<ServerHealth>(kv, keys.healths()),
    collect<number>(kv, keys.loads()),
  ]);
  return [...servers.values()].map(({ value: s }) => {
    const health = healths.get(s.id)?.value ?? HEALTHY;
    const load = loads.get(s.id);
    return {
      ...s,
      health,
      online: health.excludedUntil <= now,
      loadMilli: load?.value ?? 0,
      loadVersionstamp: load?.versionstamp ?? null,
    };
  });
}

async function collect<T>(kv: Deno.Kv, prefix: Deno.KvKey): Promise<Map<number, Deno.KvEntry<T>>> {
  const out = new Map<number, Deno.KvEntry<T>>();
  for await (const e of kv.list<T>({ prefix })) out.set(e.key[1] as number, e);
  return out;
}

/**
 * Record a failed call: the server leaves placement for {@linkcode EXCLUSION_MS}.
 *
 * @param reason what failed, without secrets
 */
export async function markFailure(kv: Deno.Kv, id: number, reason: string, now = Date.now()): Promise<void> {
  await updateHealth(kv, id, (h) => ({
    ...h,
    excludedUntil: now + EXCLUSION_MS,
    failures: h.failures + 1,
    lastError: reason,
  }));
}

/** Record a successful call: the server is back in placement. Writes nothing when it already was healthy. */
export async function markSuccess(kv: Deno.Kv, id: number, now = Date.now()): Promise<void> {
  await updateHealth(
    kv,
    id,
    (h) =>
      h.failures === 0 && h.excludedUntil === 0 && h.lastGoodAt !== null && now - h.lastGoodAt < 60_000
        ? h
        : { excludedUntil: 0, failures: 0, lastError: null, lastGoodAt: now },
  );
}

async function updateHealth(
  kv: Deno.Kv,
  id: number,
  change: (h: ServerHealth) => ServerHealth,
): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const [entry, server] = await kv.getMany<[ServerHealth, ServerRecord]>([
      keys.health(id),
      keys.server(id),
    ]);
    if (server.versionstamp === null) return; // removed meanwhile: no health for a server that is gone
    const before = entry.value ?? HEALTHY;
    const after = change(before);
    if (after === before) return;
    const res = await commitWithRetry(() => kv.atomic().check(entry).check(server).set(entry.key, after));
    if (res.ok) return;
  }
}

/**
 * Remove a server.
 *
 * @param force also forget the meetings bbblb placed there (they are not ended; their history is kept)
 * @throws {StoreError} when there is no such server, or meetings run there and `force` is not set.
 */
export async function removeServer(kv: Deno.Kv, id: number, force: boolean): Promise<{ forgotten: number }> {
  if (!(await getServer(kv, id))) throw new StoreError(`there is no server ${id}`);
  const index = await Array.fromAsync(kv.list<string>({ prefix: keys.meetingsByServer(id) }));
  if (index.length > 0 && !force) {
    throw new StoreError(
      `server ${id} still has ${index.length} running meeting(s); use --force to forget them (they are not ended)`,
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
  await commitWithRetry(() =>
    kv.atomic().delete(keys.server(id)).delete(keys.health(id)).delete(keys.load(id))
  );
  return { forgotten };
}
