/**
 * Retention of the recordings in central custody, run by the minute chores of every `serve` and done by one of
 * them each minute (a claim in the store):
 *
 * - a tenant with `tenant set NAME --delete-recordings-after DAYS` has its recordings deleted (as
 *   `deleteRecordings` does) once DAYS have passed since their start;
 * - a deleted recording keeps its files under the recordings directory for `--recordings-keep-deleted-days`
 *   after its deletion (so a mistaken delete can be undone with `bbblb recording publish`), then its files are
 *   purged. Its record stays, deleted and without formats or metadata, so a late upload of it stays deleted.
 *
 * Each deletion and purge is logged with the recordID and tenant.
 *
 * @module
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { claimChoreRun } from "../store/chores.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import {
  listAllRecordings,
  recordingBytes,
  type RecordingRecord,
  setRecordingState,
  tryLockRecording,
  unlockRecording,
  updateRecording,
} from "../store/recordings.ts";
import { getDefaultTenantRecord, listTenants } from "../store/tenants.ts";
import { captionsDir, isFormatName, removeTree } from "./layout.ts";

/** Options of {@linkcode runRetention}. */
export interface RetentionOptions {
  kv: Deno.Kv;
  /** The recordings directory. */
  dir: string;
  log: Logger;
  /** `--recordings-keep-deleted-days`: days a deleted recording's files are kept. */
  keepDeletedDays: number;
  /** This process (for the recording locks). */
  owner: string;
  /** The clock, ms. @default Date.now() */
  now?: number;
}

/** What one run did. */
export interface RetentionReport {
  /** Whether this instance ran it (another one did this minute otherwise). */
  ran: boolean;
  /** recordIDs deleted because their tenant's retention ran out. */
  deleted: string[];
  /** recordIDs whose files were purged. */
  purged: string[];
}

const DAY_MS = 24 * 3600_000;
/** How long a purge holds a recording's lock (an import of it waits). */
const LOCK_MS = 10 * 60_000;

/** Run retention once (if no other instance did this minute). */
export async function runRetention(o: RetentionOptions): Promise<RetentionReport> {
  const now = o.now ?? Date.now();
  const report: RetentionReport = { ran: false, deleted: [], purged: [] };
  if (!(await claimChoreRun(o.kv, "retention", now))) return report;
  report.ran = true;
  const afterDays = new Map<string, number>();
  for (const t of await listTenants(o.kv)) {
    if (t.deleteRecordingsAfterDays) afterDays.set(t.name, t.deleteRecordingsAfterDays);
  }
  const dflt = (await getDefaultTenantRecord(o.kv))?.deleteRecordingsAfterDays;
  if (dflt) afterDays.set(DEFAULT_TENANT, dflt);
  for (const r of await listAllRecordings(o.kv)) {
    const days = afterDays.get(r.tenant);
    if (
      (r.state === "published" || r.state === "unpublished") && days && r.startTime + days * DAY_MS <= now
    ) {
      if (await setRecordingState(o.kv, r.recordID, ["published", "unpublished"], "deleted", now)) {
        o.log.info("recording deleted by retention", { recordID: r.recordID, tenant: r.tenant, days });
        report.deleted.push(r.recordID);
      }
      continue;
    }
    if (r.state !== "deleted" || r.purgedAt) continue;
    if ((r.deletedAt ?? r.updatedAt) + o.keepDeletedDays * DAY_MS > now) continue;
    if (await purge(o, r, now)) report.purged.push(r.recordID);
  }
  return report;
}

/**
 * Strip a deleted recording's record, then remove its files, under its lock (an import of it waits). The record
 * is changed first, atomically and only while it is still deleted, so a recording published again in the
 * meantime keeps its files.
 *
 * @returns whether it was purged
 */
async function purge(o: RetentionOptions, r: RecordingRecord, now: number): Promise<boolean> {
  if (!(await tryLockRecording(o.kv, r.recordID, o.owner, LOCK_MS, now))) return false;
  try {
    let before: RecordingRecord | null = null;
    await updateRecording(o.kv, r.recordID, (cur) => {
      before = cur !== null && cur.state === "deleted" && !cur.purgedAt ? cur : null;
      if (before === null) return null;
      return {
        ...cur!,
        name: "",
        meta: {},
        metaChanges: {},
        formats: {},
        textTracks: [],
        purgedAt: now,
        updatedAt: now,
      };
    });
    if (before === null) return false;
    for await (const e of Deno.readDir(o.dir)) {
      if (e.isDirectory && isFormatName(e.name)) await removeTree(join(o.dir, e.name, r.recordID));
    }
    await removeTree(captionsDir(o.dir, r.recordID));
    o.log.info("recording purged", {
      recordID: r.recordID,
      tenant: r.tenant,
      bytes: recordingBytes(before),
      deletedDaysAgo: Math.floor((now - (r.deletedAt ?? r.updatedAt)) / DAY_MS),
    });
    return true;
  } finally {
    await unlockRecording(o.kv, r.recordID, o.owner);
  }
}
