/**
 * The store's schema version and the migrations between versions, so a store kept for years follows bbblb's
 * upgrades. The version lives at `["setting", "schema_version"]`; a store without it that holds data was
 * written by the first layout (version 1). Every command that opens a store calls {@linkcode ensureSchema}
 * first: a newer bbblb migrates an older store, and a store newer than the code is refused (an older bbblb
 * would misread it).
 *
 * Version history:
 * - 1: the first layout (bbblb 0.1 before the poller): server health as `{ excludedUntil, failures,
 *   lastError, lastGoodAt }`, meetings without `movedFrom`, no cluster-wide voiceBridge reservations.
 * - 2: health as {@linkcode ServerHealth} (`online`, `excluded`, `successes`, `lastGoodPoll`), meetings with
 *   `movedFrom`, `["voice_bridge", pin]` reserved for every meeting that has a voiceBridge.
 * - 3: load sums as `Deno.KvU64` (changed with atomic `sum`, see `load.ts`) instead of plain numbers.
 *   Later additions that need no migration, so the version stays 3: the optional `maxMeetings` of a server
 *   record (absent or `null`: no cap, which is what an older record means), and the `["servers_version"]`
 *   counter (absent until the first change after an upgrade; a claim checks its versionstamp, `null` before).
 *   An older bbblb reading such a store ignores both.
 *
 * Optional fields and keys added since, which need no migration because their absence reads as the old
 * behaviour: `ServerRecord.tags` (absent: untagged); `["tenant", name]` and `["tenant_default"]` (absent: no
 * tenants, and no rules or limits for the default tenant, whose meetings always used the tenant slot `""`);
 * `ServerRecord.configuredVersion` and `.revealedVersion` (absent: the BBB version is unknown);
 * `TenantRecord.policy` (absent: nothing blocked, any host).
 *
 * @module
 */
import { keys } from "./keys.ts";
import { loadValue } from "./load.ts";
import { commitWithRetry } from "./kv.ts";
import type { MeetingRecord } from "./meetings.ts";
import { NEW_SERVER_HEALTH, type ServerHealth, type ServerRecord } from "./servers.ts";

/** The store cannot be used by this code (newer, or an unknown version); the command line exits 1. */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaError";
  }
}

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = 3;

const VERSION_KEY = keys.setting("schema_version");

/** One migration: from version `from` to `from + 1`. Must be safe to run twice (a crash may interrupt it). */
interface Migration {
  from: number;
  what: string;
  run(kv: Deno.Kv, now: number): Promise<void>;
}

const MIGRATIONS: Migration[] = [
  {
    from: 1,
    what: "server health gets online/excluded/successes, meetings get movedFrom, voiceBridges are reserved",
    run: migrate1to2,
  },
  {
    from: 2,
    what: "load sums become Deno.KvU64 values",
    run: migrate2to3,
  },
];

/**
 * The store's schema version: the stored one, 1 for a store written before versions existed, or `null` for an
 * empty store.
 */
export async function schemaVersionOf(kv: Deno.Kv): Promise<number | null> {
  const entry = await kv.get<number>(VERSION_KEY);
  if (typeof entry.value === "number") return entry.value;
  for await (const _ of kv.list({ prefix: [] }, { limit: 1 })) return 1;
  return null;
}

/** What {@linkcode ensureSchema} found and did. */
export interface SchemaReport {
  /** The version found (`null`: an empty store, now stamped with the current version). */
  from: number | null;
  /** The version now ({@linkcode SCHEMA_VERSION}). */
  to: number;
  /** The migrations that ran, as sentences. */
  migrated: string[];
}

/**
 * Stamp an empty store with the current version, migrate an older one step by step, refuse a newer one.
 * Concurrent callers (several instances starting at once) are safe: migrations are idempotent and the version
 * is advanced with a check.
 *
 * @throws {SchemaError} when the store's version is newer than this code's, or not a version at all
 */
export async function ensureSchema(kv: Deno.Kv, now: number = Date.now()): Promise<SchemaReport> {
  const found = await schemaVersionOf(kv);
  const report: SchemaReport = { from: found, to: SCHEMA_VERSION, migrated: [] };
  if (found !== null && (!Number.isInteger(found) || found < 1)) {
    throw new SchemaError(`the store's schema version ${JSON.stringify(found)} is not one bbblb ever wrote`);
  }
  if (found !== null && found > SCHEMA_VERSION) {
    throw new SchemaError(
      `the store has schema version ${found}, newer than this bbblb understands (${SCHEMA_VERSION}): ` +
        "run the newer bbblb that wrote it, or restore a backup made before the upgrade",
    );
  }
  let version = found ?? SCHEMA_VERSION;
  while (version < SCHEMA_VERSION) {
    const step = MIGRATIONS.find((m) => m.from === version);
    if (!step) throw new SchemaError(`no migration from schema version ${version}`);
    await step.run(kv, now);
    report.migrated.push(`schema ${version} to ${version + 1}: ${step.what}`);
    version++;
    await setVersion(kv, version);
  }
  if (found === null) await setVersion(kv, SCHEMA_VERSION);
  return report;
}

/** Advance the stored version to `version` (never lower it: another instance may have gone further). */
async function setVersion(kv: Deno.Kv, version: number): Promise<void> {
  for (;;) {
    const entry = await kv.get<number>(VERSION_KEY);
    if (typeof entry.value === "number" && entry.value >= version) return;
    if ((await commitWithRetry(() => kv.atomic().check(entry).set(VERSION_KEY, version))).ok) return;
  }
}

/** Health as the first layout kept it. */
interface HealthV1 {
  excludedUntil?: number;
  failures?: number;
  lastError?: string | null;
  lastGoodAt?: number | null;
}

async function migrate1to2(kv: Deno.Kv, now: number): Promise<void> {
  // Health: a server is taken as online (the poller decides within two rounds), out of placement while the old
  // exclusion lasts.
  for await (const e of kv.list<ServerHealth & HealthV1>({ prefix: keys.healths() })) {
    if (typeof e.value.online === "boolean") continue;
    const health: ServerHealth = {
      ...NEW_SERVER_HEALTH,
      excluded: (e.value.excludedUntil ?? 0) > now,
      failures: e.value.failures ?? 0,
      lastError: e.value.lastError ?? null,
      lastGoodPoll: e.value.lastGoodAt ?? null,
    };
    await commitWithRetry(() => kv.atomic().check(e).set(e.key, health));
  }
  // Servers without a health or load entry get the defaults (the poller repairs a wrong load sum).
  for await (const s of kv.list<ServerRecord>({ prefix: keys.servers() })) {
    const id = s.value.id;
    await commitWithRetry(() =>
      kv.atomic()
        .check({ key: keys.health(id), versionstamp: null })
        .set(keys.health(id), NEW_SERVER_HEALTH)
    );
    await commitWithRetry(() =>
      kv.atomic().check({ key: keys.load(id), versionstamp: null }).set(keys.load(id), 0)
    );
  }
  // Meetings: movedFrom, and their voiceBridge reserved cluster-wide unless another meeting holds it.
  for await (const e of kv.list<MeetingRecord>({ prefix: keys.allMeetings() })) {
    const m = e.value;
    if (!Array.isArray(m.movedFrom)) {
      await commitWithRetry(() => kv.atomic().check(e).set(e.key, { ...m, movedFrom: [] }));
    }
    if (m.voiceBridge) {
      const vb = keys.voiceBridge(m.voiceBridge);
      await commitWithRetry(() =>
        kv.atomic().check({ key: vb, versionstamp: null }).set(vb, {
          tenant: m.tenant,
          meetingID: m.meetingID,
        })
      );
    }
  }
}

/** Load sums stored as plain numbers become `Deno.KvU64` (a value already converted is left alone). */
async function migrate2to3(kv: Deno.Kv): Promise<void> {
  for await (const entry of kv.list<unknown>({ prefix: keys.loads() })) {
    if (typeof entry.value !== "number") continue;
    const milli = Math.max(0, Math.round(entry.value));
    await commitWithRetry(() => kv.atomic().check(entry).set(entry.key, loadValue(milli)));
  }
}
