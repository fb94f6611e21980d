/**
 * The index of the recordings in central custody (`serve --recordings-dir`): one record per recordID, kept
 * under its tenant (`["recording", tenant, recordID]`, plus `["recording_tenant", recordID]` to find it by ID),
 * the uploads waiting to be imported, the short locks held while files are swapped into place, and the totals
 * for the metrics. The files themselves live under the recordings directory (see `recordings/layout.ts`).
 *
 * A record keeps apart what comes from BBB's `metadata.xml` (replaced by every re-import of a rebuilt
 * recording) and what front-ends and the operator changed through bbblb (the published state, metadata changes,
 * text tracks), which a re-import keeps.
 *
 * @module
 */
import { commitWithRetry } from "./kv.ts";
import { keys } from "./keys.ts";

/** The states of a recording in custody. BBB's `processing`/`processed` never reach bbblb. */
export type RecordingState = "published" | "unpublished" | "deleted";

/** A preview image of a playback format (`<extensions><preview><images><image>`). */
export interface PreviewImage {
  /** Path and query of the image URL; listed on bbblb's host. */
  path: string;
  width: string | null;
  height: string | null;
  alt: string | null;
}

/** One playback format of a recording, from its `metadata.xml`. */
export interface FormatRecord {
  /** `presentation`, `video`, `podcast`, … (the folder name under the recordings directory). */
  format: string;
  /** Path and query of the playback link (`<link>`); listed on bbblb's host. */
  linkPath: string;
  /** `<processing_time>`, ms. */
  processingTime: number;
  /** `<duration>`, ms (getRecordings lists whole minutes as `<length>`). */
  duration: number;
  /** `<size>` of the playback, bytes, as BBB measured it (0 when absent). */
  size: number;
  /** Bytes of the format's files under the recordings directory. */
  bytes: number;
  /** Preview images, in order. */
  images: PreviewImage[];
  /** When this format was last imported (ms since the epoch). */
  importedAt: number;
  /** The server that uploaded it, or `null` for `bbblb recording import`. */
  serverId: number | null;
}

/** A text track (captions or subtitles) stored as BBB's caption pipeline stores it (`captions.json`). */
export interface TextTrackRecord {
  kind: "subtitles" | "captions";
  /** Language tag as BBB normalises it (`en-US`). */
  lang: string;
  label: string;
  source: "upload" | "live" | "automatic";
}

/** A recording in custody. */
export interface RecordingRecord {
  recordID: string;
  /** The tenant (from bbblb's history of the meeting; {@linkcode DEFAULT_TENANT} for the default tenant). */
  tenant: string;
  /** The tenant's own meetingID (unscoped). */
  meetingID: string;
  /** BBB's internalMeetingID of the recorded meeting. */
  internalMeetingID: string;
  /** The meeting instance in bbblb's history, or `null` when bbblb has none (older recordings, imports). */
  historyId: string | null;
  /** The server that made it (from the history, else the first server that uploaded it); `null`: imported. */
  serverId: number | null;
  name: string;
  isBreakout: boolean;
  /** ms since the epoch. */
  startTime: number;
  /** ms since the epoch. */
  endTime: number;
  participants: number;
  /** `<raw_size>`, bytes. */
  rawSize: number;
  /** The `<meta>` of `metadata.xml` (lower-cased names, as BBB keeps them). */
  meta: Record<string, string>;
  /** `<breakout parentMeetingId sequence meetingId>` of a breakout room's recording. */
  breakout: { parentId: string; sequence: number; meetingId: string } | null;
  /** `<breakoutRooms>` of a parent meeting's recording. */
  breakoutRooms: string[];
  /** The playback formats by name. */
  formats: Record<string, FormatRecord>;
  state: RecordingState;
  /** Whether `state` was set through bbblb (API or CLI), so a re-import keeps it. */
  stateSetByBbblb: boolean;
  /** `updateRecordings` changes over `meta`: a value adds or replaces, `null` removes. Kept by re-imports. */
  metaChanges: Record<string, string | null>;
  /** Text tracks uploaded through bbblb. Kept by re-imports. */
  textTracks: TextTrackRecord[];
  /** Whether the recording-ready callback was sent (it is sent once per recording). */
  readyNotified: boolean;
  /** When the recording was first imported (ms). */
  createdAt: number;
  /** When it last changed (ms). */
  updatedAt: number;
  /** When it was deleted through bbblb (ms), for `--recordings-keep-deleted-days`; absent: not known. */
  deletedAt?: number | null;
  /** When its files were purged (ms); the record stays (deleted, without formats) so a late upload stays deleted. */
  purgedAt?: number | null;
}

/** The metadata a recording is listed with: `meta` with `metaChanges` applied. */
export function effectiveMeta(r: RecordingRecord): Record<string, string> {
  const out = { ...r.meta };
  for (const [k, v] of Object.entries(r.metaChanges)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Bytes of a recording's files (every format). */
export function recordingBytes(r: RecordingRecord | null): number {
  return r ? Object.values(r.formats).reduce((sum, f) => sum + f.bytes, 0) : 0;
}

/** Largest serialized record accepted (a KV value holds at most 64 KiB). */
export const MAX_RECORD_BYTES = 60 * 1024;

/** A recording whose record would not fit in one store value (an enormous `<meta>`). */
export class RecordTooLargeError extends Error {
  constructor(recordID: string) {
    super(`the metadata of ${recordID} is too large to keep (over ${MAX_RECORD_BYTES / 1024} KiB)`);
    this.name = "RecordTooLargeError";
  }
}

/** The record of a recordID (any tenant), with its versionstamp, or `null`. */
export async function getRecording(
  kv: Deno.Kv,
  recordID: string,
): Promise<Deno.KvEntry<RecordingRecord> | null> {
  const tenant = await kv.get<string>(keys.recordingTenant(recordID));
  if (tenant.value === null) return null;
  const entry = await kv.get<RecordingRecord>(keys.recording(tenant.value, recordID));
  return entry.value === null ? null : entry as Deno.KvEntry<RecordingRecord>;
}

/**
 * A tenant's recordings whose recordID starts with one of `prefixes` (all of them when `prefixes` is empty),
 * each once, in recordID order. A prefix is a range scan of the tenant's records, so a meetingID filter
 * (`sha1(meetingID)`) reads only that meeting's recordings.
 */
export async function listRecordings(
  kv: Deno.Kv,
  tenant: string,
  prefixes: readonly string[] = [],
): Promise<RecordingRecord[]> {
  if (prefixes.length === 0) {
    return (await Array.fromAsync(kv.list<RecordingRecord>({ prefix: keys.recordings(tenant) }))).map((e) =>
      e.value
    );
  }
  const seen = new Map<string, RecordingRecord>();
  // The shortest prefixes first: a longer one inside a shorter one adds nothing.
  const sorted = [...new Set(prefixes)].sort((a, b) => a.length - b.length);
  const done: string[] = [];
  for (const p of sorted) {
    if (p === "" || done.some((d) => p.startsWith(d))) continue;
    done.push(p);
    const start = keys.recording(tenant, p);
    const end = keys.recording(tenant, `${p}\uffff`);
    for await (const e of kv.list<RecordingRecord>({ start, end })) seen.set(e.value.recordID, e.value);
  }
  return [...seen.values()].sort((a, b) => (a.recordID < b.recordID ? -1 : a.recordID > b.recordID ? 1 : 0));
}

/** Every recording of every tenant (for `bbblb recording list`). */
export async function listAllRecordings(kv: Deno.Kv): Promise<RecordingRecord[]> {
  return (await Array.fromAsync(kv.list<RecordingRecord>({ prefix: keys.allRecordings() }))).map((e) =>
    e.value
  );
}

/** Count and bytes of the recordings in custody. */
export interface RecordingStats {
  count: number;
  bytes: number;
}

/** The totals kept with every change of the index. */
export async function recordingStats(kv: Deno.Kv): Promise<RecordingStats> {
  return (await kv.get<RecordingStats>(keys.recordingStats())).value ?? { count: 0, bytes: 0 };
}

/**
 * Change one recording: `change` gets the current record (or `null`) and returns the new one, or `null` to
 * leave it as it is. The record, its tenant pointer (a record that changes tenant moves) and the totals are
 * written in one atomic operation that checks all three, retried from a fresh read when another process changed
 * them in between, so concurrent imports of a recording's formats merge instead of overwriting each other.
 *
 * @returns the record as written, or the current one when `change` left it
 * @throws {RecordTooLargeError} when the new record does not fit in one store value
 */
export async function updateRecording(
  kv: Deno.Kv,
  recordID: string,
  change: (current: RecordingRecord | null) => RecordingRecord | null,
): Promise<RecordingRecord | null> {
  for (;;) {
    const pointer = await kv.get<string>(keys.recordingTenant(recordID));
    const current = pointer.value === null
      ? null
      : await kv.get<RecordingRecord>(keys.recording(pointer.value, recordID));
    const stats = await kv.get<RecordingStats>(keys.recordingStats());
    const next = change(current?.value ?? null);
    if (next === null) return current?.value ?? null;
    if (JSON.stringify(next).length > MAX_RECORD_BYTES) throw new RecordTooLargeError(recordID);
    const before = stats.value ?? { count: 0, bytes: 0 };
    const totals: RecordingStats = {
      count: before.count + (current?.value ? 0 : 1),
      bytes: Math.max(0, before.bytes - recordingBytes(current?.value ?? null) + recordingBytes(next)),
    };
    const res = await commitWithRetry(() => {
      const op = kv.atomic().check(pointer).check(stats).set(keys.recordingStats(), totals);
      if (current) {
        op.check(current);
        if (current.value && current.value.tenant !== next.tenant) op.delete(current.key);
      }
      return op.set(keys.recording(next.tenant, recordID), next).set(
        keys.recordingTenant(recordID),
        next.tenant,
      );
    });
    if (res.ok) return next;
  }
}

/** What happened to an upload, as its status endpoint reports it. */
export type UploadState = "received" | "importing" | "imported" | "failed";

/** One `<format>/<recordID>` of an upload and what became of it. */
export interface UploadItem {
  format: string;
  recordID: string;
  /** Bytes of its files. */
  bytes: number;
  state: "pending" | "imported" | "failed";
  /** Why it failed (a sentence for the operator), or `null`. */
  error: string | null;
}

/** An archive a BBB server uploaded, from its arrival to its import. */
export interface UploadRecord {
  id: string;
  /** The server that signed the upload. */
  serverId: number;
  receivedAt: number;
  state: UploadState;
  items: UploadItem[];
  /** The process importing it and until when its claim holds (ms), while `importing`. */
  owner: string | null;
  until: number;
  finishedAt: number | null;
}

/** How long finished upload records are kept (for the node's status polls and the operator). */
const UPLOAD_KEPT_MS = 7 * 24 * 3600 * 1000;

/** Save a new upload (state `received`). */
export async function saveUpload(kv: Deno.Kv, upload: UploadRecord): Promise<void> {
  await commitWithRetry(() => kv.atomic().set(keys.recordingUpload(upload.id), upload));
}

/** An upload by id, or `null`. */
export async function getUpload(kv: Deno.Kv, id: string): Promise<UploadRecord | null> {
  return (await kv.get<UploadRecord>(keys.recordingUpload(id))).value;
}

/**
 * Claim an upload for importing: one that is `received`, or `importing` by a process whose claim ran out (it
 * died). Exactly one process wins a claim.
 *
 * @returns the claimed upload, or `null` when it is not (or no longer) claimable
 */
export async function claimUpload(
  kv: Deno.Kv,
  id: string,
  owner: string,
  leaseMs: number,
  now: number = Date.now(),
): Promise<UploadRecord | null> {
  const entry = await kv.get<UploadRecord>(keys.recordingUpload(id));
  const u = entry.value;
  if (!u || !(u.state === "received" || (u.state === "importing" && u.until < now))) return null;
  const claimed: UploadRecord = { ...u, state: "importing", owner, until: now + leaseMs };
  const res = await commitWithRetry(() => kv.atomic().check(entry).set(entry.key, claimed));
  return res.ok ? claimed : null;
}

/** Record how an upload ended (`imported` when every item was, else `failed`); kept for a week. */
export async function finishUpload(
  kv: Deno.Kv,
  upload: UploadRecord,
  items: UploadItem[],
  now: number = Date.now(),
): Promise<UploadRecord> {
  const done: UploadRecord = {
    ...upload,
    items,
    state: items.every((i) => i.state === "imported") ? "imported" : "failed",
    owner: null,
    finishedAt: now,
  };
  await commitWithRetry(() =>
    kv.atomic().set(keys.recordingUpload(upload.id), done, { expireIn: UPLOAD_KEPT_MS })
  );
  return done;
}

/** The uploads waiting for an import: `received`, or `importing` with a claim that ran out. */
export async function listPendingUploads(kv: Deno.Kv, now: number = Date.now()): Promise<UploadRecord[]> {
  const out: UploadRecord[] = [];
  for await (const e of kv.list<UploadRecord>({ prefix: keys.recordingUploads() })) {
    const u = e.value;
    if (u.state === "received" || (u.state === "importing" && u.until < now)) out.push(u);
  }
  return out;
}

/** The ids of every upload record (for tidying the staging folders of uploads that were never recorded). */
export async function listUploadIds(kv: Deno.Kv): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const e of kv.list({ prefix: keys.recordingUploads() })) out.add(e.key[1] as string);
  return out;
}

/**
 * Take the lock of a recordID for `ms` (while its files are swapped into place and its record merged). A lock
 * whose holder died runs out by itself.
 *
 * @returns whether this owner holds it now
 */
export async function tryLockRecording(
  kv: Deno.Kv,
  recordID: string,
  owner: string,
  ms: number,
  now: number = Date.now(),
): Promise<boolean> {
  const entry = await kv.get<{ owner: string; until: number }>(keys.recordingLock(recordID));
  if (entry.value && entry.value.owner !== owner && entry.value.until >= now) return false;
  const res = await commitWithRetry(() =>
    kv.atomic().check(entry).set(entry.key, { owner, until: now + ms })
  );
  return res.ok;
}

/** Release a lock this owner holds (a lock taken over by another owner is left alone). */
export async function unlockRecording(kv: Deno.Kv, recordID: string, owner: string): Promise<void> {
  const entry = await kv.get<{ owner: string; until: number }>(keys.recordingLock(recordID));
  if (entry.value?.owner !== owner) return;
  await commitWithRetry(() => kv.atomic().check(entry).delete(entry.key));
}

/** Which of these recordIDs are in custody (of any tenant). */
export async function indexedRecordIds(kv: Deno.Kv, recordIDs: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < recordIDs.length; i += 10) {
    const batch = recordIDs.slice(i, i + 10);
    const entries = await kv.getMany<string[]>(batch.map((id) => keys.recordingTenant(id)));
    entries.forEach((e, j) => {
      if (e.value !== null) out.add(batch[j]);
    });
  }
  return out;
}

/**
 * Move a recording to state `to` if it is in one of `from` (a change through bbblb: re-imports keep it).
 *
 * @returns whether it changed
 */
export async function setRecordingState(
  kv: Deno.Kv,
  recordID: string,
  from: readonly RecordingState[],
  to: RecordingState,
  now: number = Date.now(),
): Promise<boolean> {
  let changed = false;
  await updateRecording(kv, recordID, (cur) => {
    changed = cur !== null && from.includes(cur.state) && cur.state !== to;
    const deletedAt = to === "deleted" ? now : null;
    return changed ? { ...cur!, state: to, stateSetByBbblb: true, updatedAt: now, deletedAt } : null;
  });
  return changed;
}

/** How many upload records are in each state (the import queue: `received` and `importing`). */
export async function countUploads(kv: Deno.Kv): Promise<Record<UploadState, number>> {
  const out: Record<UploadState, number> = { received: 0, importing: 0, imported: 0, failed: 0 };
  for await (const e of kv.list<UploadRecord>({ prefix: keys.recordingUploads() })) out[e.value.state]++;
  return out;
}
