/**
 * Export and import of a whole store as versioned JSON: the servers (with their secrets: it is a backup), the
 * settings bbblb keeps (the generated API secret, the keys of rejoin links and join cookies, the public URL),
 * the running meetings with their create parameters, the meeting history and the tenants. What the poller derives (health,
 * live counts, load sums, indexes, leases) is not exported: an import rebuilds the sums and indexes from the
 * meetings, and the poller re-learns the rest within a few rounds.
 *
 * @module
 */
import type { Params } from "../bbb/query.ts";
import { keys } from "./keys.ts";
import { loadValue } from "./load.ts";
import { commitWithRetry } from "./kv.ts";
import {
  type HistoryRecord,
  listAllMeetings,
  loadCreateParams,
  type MeetingRecord,
  saveCreateParams,
} from "./meetings.ts";
import { listAllRecordings, type RecordingRecord, updateRecording } from "./recordings.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import { NEW_SERVER_HEALTH, SERVER_STATES, type ServerRecord } from "./servers.ts";
import { getDefaultTenantRecord, isTenantName, listTenants, type TenantRecord } from "./tenants.ts";

/** The `format` field of every export. */
export const EXPORT_FORMAT = "bbblb-export";
/**
 * The version of the export format this code writes (and the newest it reads). 2 added `tenants`, 3 the index
 * of central recordings: an older bbblb refuses such an export rather than restoring it without them.
 */
export const EXPORT_VERSION = 3;

/** A setting's value in an export: JSON as it is, bytes as base64. */
export type ExportedValue = string | number | boolean | null | { base64: string };

/** The document `bbblb export` writes. */
export interface ExportDoc {
  format: typeof EXPORT_FORMAT;
  /** {@linkcode EXPORT_VERSION} of the writer. */
  version: number;
  /** The store's schema version when exported. */
  schemaVersion: number;
  /** ISO 8601. */
  exportedAt: string;
  servers: ServerRecord[];
  /** `["setting", name]` entries (the schema version excluded), by name. */
  settings: Record<string, ExportedValue>;
  /** Running meetings (and claims in flight). */
  meetings: MeetingRecord[];
  /** Every meeting instance ever created, oldest first. */
  history: HistoryRecord[];
  /** Create parameters by historyId (needed to move or fail over a running meeting). */
  createParams: Record<string, Params>;
  /** The tenants with their secrets, and the default tenant's own record (`name` "default"); absent before 2. */
  tenants?: TenantRecord[];
  /**
   * The index of central recordings (state, metadata, formats, text tracks; the files stay in the recordings
   * directory, which is backed up as files); absent before 3.
   */
  recordings?: RecordingRecord[];
}

/** An import file bbblb cannot use, or a store it will not overwrite. */
export class BackupError extends Error {
  /** 2 for a bad file, 1 for a refusal. */
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "BackupError";
    this.exitCode = exitCode;
  }
}

/** Read the whole store into an export document. Reads prefix by prefix while bbblb may run. */
export async function exportStore(kv: Deno.Kv, now: Date = new Date()): Promise<ExportDoc> {
  const servers = (await Array.fromAsync(kv.list<ServerRecord>({ prefix: keys.servers() }))).map((e) =>
    e.value
  );
  const settings: Record<string, ExportedValue> = {};
  for await (const e of kv.list<unknown>({ prefix: ["setting"] })) {
    const name = String(e.key[1]);
    if (name === "schema_version") continue;
    settings[name] = e.value instanceof Uint8Array
      ? { base64: btoa(String.fromCharCode(...e.value)) }
      : e.value as ExportedValue;
  }
  const meetings = (await listAllMeetings(kv)).map((e) => e.value);
  const history = (await Array.fromAsync(kv.list<HistoryRecord>({ prefix: ["history"] }))).map((e) =>
    e.value
  );
  const createParams: Record<string, Params> = {};
  const ids = new Set<string>();
  for await (const e of kv.list({ prefix: ["create_params"] })) ids.add(String(e.key[1]));
  for (const id of ids) {
    const params = await loadCreateParams(kv, id);
    if (params) createParams[id] = params;
  }
  const defaultTenant = await getDefaultTenantRecord(kv);
  const tenants = [...(defaultTenant ? [defaultTenant] : []), ...(await listTenants(kv))];
  const recordings = await listAllRecordings(kv);
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    schemaVersion: SCHEMA_VERSION,
    exportedAt: now.toISOString(),
    servers,
    settings,
    meetings,
    history,
    createParams,
    tenants,
    recordings,
  };
}

/**
 * Check that `raw` (parsed JSON) is an export this code can import.
 *
 * @throws {BackupError} (exit status 2) naming what is wrong
 */
export function validateExport(raw: unknown): ExportDoc {
  const bad = (what: string): never => {
    throw new BackupError(`not a bbblb export this version can read: ${what}`, 2);
  };
  if (typeof raw !== "object" || raw === null) bad("not a JSON object");
  const doc = raw as Partial<ExportDoc>;
  if (doc.format !== EXPORT_FORMAT) bad(`"format" is not "${EXPORT_FORMAT}"`);
  if (typeof doc.version !== "number" || doc.version > EXPORT_VERSION) {
    bad(`export version ${doc.version} (this bbblb reads up to ${EXPORT_VERSION})`);
  }
  if (typeof doc.schemaVersion !== "number" || doc.schemaVersion > SCHEMA_VERSION) {
    bad(`schema version ${doc.schemaVersion} (this bbblb knows up to ${SCHEMA_VERSION}); use a newer bbblb`);
  }
  for (const field of ["servers", "meetings", "history"] as const) {
    if (!Array.isArray(doc[field])) bad(`"${field}" is not a list`);
  }
  for (const field of ["settings", "createParams"] as const) {
    if (typeof doc[field] !== "object" || doc[field] === null || Array.isArray(doc[field])) {
      bad(`"${field}" is not an object`);
    }
  }
  doc.servers!.forEach((s, i) => {
    if (
      typeof s?.id !== "number" || typeof s.apiUrl !== "string" || typeof s.secret !== "string" ||
      typeof s.weight !== "number" || !SERVER_STATES.includes(s.state)
    ) bad(`servers[${i}] is not a server`);
  });
  doc.meetings!.forEach((m, i) => {
    if (
      typeof m?.meetingID !== "string" || typeof m.tenant !== "string" || typeof m.serverId !== "number" ||
      typeof m.historyId !== "string" || typeof m.loadMilli !== "number"
    ) bad(`meetings[${i}] is not a meeting`);
    if (!doc.servers!.some((s) => s.id === m.serverId)) {
      bad(`meetings[${i}] is on server ${m.serverId}, not in the file`);
    }
  });
  if (doc.tenants !== undefined && !Array.isArray(doc.tenants)) bad(`"tenants" is not a list`);
  (doc.tenants ?? []).forEach((t, i) => {
    if (typeof t?.name !== "string" || !isTenantName(t.name) || !Array.isArray(t.secrets)) {
      bad(`tenants[${i}] is not a tenant`);
    }
  });
  if (doc.recordings !== undefined && !Array.isArray(doc.recordings)) bad(`"recordings" is not a list`);
  (doc.recordings ?? []).forEach((r, i) => {
    if (
      typeof r?.recordID !== "string" || typeof r.tenant !== "string" || typeof r.startTime !== "number" ||
      typeof r.formats !== "object" || r.formats === null
    ) bad(`recordings[${i}] is not a recording`);
  });
  doc.history!.forEach((h, i) => {
    if (typeof h?.historyId !== "string" || typeof h.meetingID !== "string") {
      bad(`history[${i}] is not a history row`);
    }
  });
  return doc as ExportDoc;
}

/** Whether the store holds anything besides its schema version. */
export async function storeIsEmpty(kv: Deno.Kv): Promise<boolean> {
  for await (const e of kv.list({ prefix: [] })) {
    if (!(e.key[0] === "setting" && e.key[1] === "schema_version")) return false;
  }
  return true;
}

/** Options of {@linkcode importStore}. */
export interface ImportOptions {
  /** Delete everything in the store first, instead of refusing a store that is not empty. */
  force?: boolean;
}

/** What an import wrote. */
export interface ImportReport {
  servers: number;
  meetings: number;
  history: number;
  settings: number;
  recordings: number;
}

/** Largest number of mutations in one commit of an import (Deno KV allows 1000). */
const BATCH = 500;

/**
 * Restore an export into a store: servers (health reset: the poller re-learns it), settings, meetings with
 * their load sums, index entries and voiceBridge reservations rebuilt, history, create parameters.
 *
 * @throws {BackupError} (exit status 1) when the store is not empty and `force` is not set
 */
export async function importStore(
  kv: Deno.Kv,
  doc: ExportDoc,
  options: ImportOptions = {},
): Promise<ImportReport> {
  if (!(await storeIsEmpty(kv))) {
    if (!options.force) {
      throw new BackupError(
        "the store is not empty; import restores into an empty store (--force deletes everything in it first)",
        1,
      );
    }
    await writeBatched(
      kv,
      (await Array.fromAsync(kv.list({ prefix: [] }))).map((e) => (op) => op.delete(e.key)),
    );
  }
  const loads = new Map<number, number>();
  for (const m of doc.meetings) loads.set(m.serverId, (loads.get(m.serverId) ?? 0) + m.loadMilli);
  const writes: ((op: Deno.AtomicOperation) => void)[] = [];
  for (const s of doc.servers) {
    writes.push((op) => op.set(keys.server(s.id), s));
    writes.push((op) => op.set(keys.health(s.id), NEW_SERVER_HEALTH));
    writes.push((op) => op.set(keys.load(s.id), loadValue(loads.get(s.id) ?? 0)));
  }
  for (const [name, value] of Object.entries(doc.settings)) {
    const v = typeof value === "object" && value !== null && "base64" in value
      ? Uint8Array.from(atob(value.base64), (c) => c.charCodeAt(0))
      : value;
    writes.push((op) => op.set(keys.setting(name), v));
  }
  for (const m of doc.meetings) {
    writes.push((op) => op.set(keys.meeting(m.tenant, m.meetingID), { ...m, movedFrom: m.movedFrom ?? [] }));
    writes.push((op) => op.set(keys.meetingByServer(m.serverId, m.tenant, m.meetingID), m.historyId));
    if (m.voiceBridge) {
      writes.push((op) =>
        op.set(keys.voiceBridge(m.voiceBridge!), { tenant: m.tenant, meetingID: m.meetingID })
      );
    }
  }
  for (const h of doc.history) writes.push((op) => op.set(keys.history(h.historyId), h));
  for (const t of doc.tenants ?? []) {
    writes.push((op) => op.set(t.name === "default" ? keys.tenantDefault() : keys.tenant(t.name), t));
  }
  writes.push((op) => op.set(keys.setting("schema_version"), SCHEMA_VERSION));
  writes.push((op) => op.sum(keys.serversVersion(), 1n));
  await writeBatched(kv, writes);
  for (const [historyId, params] of Object.entries(doc.createParams)) {
    await saveCreateParams(kv, historyId, params);
  }
  // Through the store's one write path for recordings, so their start-time index and totals are rebuilt.
  for (const r of doc.recordings ?? []) await updateRecording(kv, r.recordID, () => r);
  return {
    servers: doc.servers.length,
    meetings: doc.meetings.length,
    history: doc.history.length,
    settings: Object.keys(doc.settings).length,
    recordings: doc.recordings?.length ?? 0,
  };
}

async function writeBatched(kv: Deno.Kv, writes: ((op: Deno.AtomicOperation) => void)[]): Promise<void> {
  for (let i = 0; i < writes.length; i += BATCH) {
    const batch = writes.slice(i, i + BATCH);
    const res = await commitWithRetry(() => {
      const op = kv.atomic();
      for (const w of batch) w(op);
      return op;
    });
    if (!res.ok) throw new Error("the store refused an import write");
  }
}
