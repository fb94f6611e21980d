/**
 * Importing staged recordings into custody: for each staged `<format>/<recordID>/` folder, read its
 * `metadata.xml`, decide whose recording it is (bbblb's own history of the meeting, never the metadata alone),
 * swap the folder into `DIR/<format>/<recordID>/` by rename, and merge the format into the recording's record.
 * One format that fails (broken metadata, a server that did not make the recording) does not stop the others.
 *
 * A re-import of a rebuilt recording replaces the files and what `metadata.xml` says, and keeps what was
 * changed through bbblb (see `store/recordings.ts`).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { ownerOf } from "../cluster/tenancy.ts";
import type { Logger } from "../log.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import { findHistoryByInternalId, type HistoryRecord } from "../store/meetings.ts";
import {
  type FormatRecord,
  getRecording,
  type RecordingRecord,
  tryLockRecording,
  unlockRecording,
  updateRecording,
} from "../store/recordings.ts";
import type { StagedItem } from "./archive.ts";
import { formatDir, internalIdOf, makeDir, newFolderId, removeTree, trashRoot } from "./layout.ts";
import { type FormatMetadata, MetadataError, parseMetadataXml, pathOf } from "./metadata.ts";

/** What an import needs. */
export interface ImportContext {
  kv: Deno.Kv;
  /** The recordings directory. */
  dir: string;
  log: Logger;
  /** This process, for the locks it takes. */
  owner: string;
  /** @default Date.now */
  now?: () => number;
  /** Give the folders it creates to this owner (a root import into a directory the service owns). */
  fileOwner?: { uid: number; gid: number } | null;
}

/** Options of {@linkcode importStaged}. */
export interface ImportOptions {
  /** The server that uploaded the archive, or `null` for `bbblb recording import` (the operator). */
  uploader: number | null;
  /** `bbblb recording import --tenant`: the tenant of every recording in it ({@linkcode DEFAULT_TENANT} for default). */
  tenant?: string;
  /** `bbblb recording import --unpublished`: new recordings are unpublished. */
  unpublished?: boolean;
  /** The names of the tenants that exist (to read the tenant a recording's metadata claims). */
  tenants: ReadonlySet<string>;
  /** Called after each format is imported, with the record as merged (e.g. the recording-ready callback). */
  onImported?: (record: RecordingRecord, format: string) => Promise<void>;
}

/** What became of one staged format. */
export interface ImportResult {
  format: string;
  recordID: string;
  bytes: number;
  state: "imported" | "failed";
  /** Why it failed, a sentence for the operator; `null` when imported. */
  error: string | null;
  /** The tenant it was imported for. */
  tenant: string | null;
}

/** A format that cannot be imported, with the reason. */
class ImportRefused extends Error {}

/** Longest a metadata.xml may be. */
const MAX_METADATA_BYTES = 4 * 1024 * 1024;

/** How long the lock of a recordID is held at most (a swap takes milliseconds; a dead holder's runs out). */
const LOCK_MS = 60_000;

/**
 * Import every staged format under `staging` (each `<format>/<recordID>/`), then remove `staging`.
 *
 * @returns one result per staged item, in order
 */
export async function importStaged(
  ctx: ImportContext,
  staging: string,
  items: readonly StagedItem[],
  opts: ImportOptions,
): Promise<ImportResult[]> {
  const results: ImportResult[] = [];
  try {
    for (const item of items) {
      const base = { format: item.format, recordID: item.recordID, bytes: item.bytes };
      try {
        const record = await importOne(ctx, join(staging, item.format, item.recordID), item, opts);
        results.push({ ...base, state: "imported", error: null, tenant: record.tenant });
        ctx.log.info("recording imported", {
          recordID: item.recordID,
          format: item.format,
          tenant: record.tenant,
          bytes: item.bytes,
          server: opts.uploader ?? undefined,
        });
        await opts.onImported?.(record, item.format).catch((e) =>
          ctx.log.warn("after the import", {
            recordID: item.recordID,
            error: String((e as Error)?.message ?? e),
          })
        );
      } catch (e) {
        const error = e instanceof ImportRefused || e instanceof MetadataError
          ? e.message
          : `could not be imported: ${(e as Error)?.message ?? e}`;
        results.push({ ...base, state: "failed", error, tenant: null });
        ctx.log.warn("recording import failed", {
          recordID: item.recordID,
          format: item.format,
          server: opts.uploader ?? undefined,
          error,
        });
      }
    }
  } finally {
    await removeTree(staging);
  }
  return results;
}

/** Who a recording belongs to. */
interface Owner {
  tenant: string;
  meetingID: string;
  historyId: string | null;
  serverId: number | null;
}

/**
 * Whose a recording is: bbblb's history of its meeting decides (tenant, meetingID, and the server that made it,
 * which alone may upload it); without history, the recording kept already; else the default tenant, unless the
 * metadata names another tenant (a meeting created directly on a node can claim any tenant, so such a recording
 * is refused, and the operator imports it with `--tenant`).
 */
async function resolveOwner(
  ctx: ImportContext,
  md: FormatMetadata,
  recordID: string,
  opts: ImportOptions,
): Promise<Owner> {
  const history: HistoryRecord | null = await findHistoryByInternalId(ctx.kv, internalIdOf(recordID));
  const existing = (await getRecording(ctx.kv, recordID))?.value ?? null;
  const claimed = ownerOf(md.externalMeetingID, md.meta["bbblb-tenant"], opts.tenants);
  const unscoped = (tenant: string) =>
    tenant !== DEFAULT_TENANT && md.externalMeetingID.startsWith(`${tenant}~`)
      ? md.externalMeetingID.slice(tenant.length + 1)
      : md.externalMeetingID;
  const historyId = history?.historyId ?? existing?.historyId ?? null;
  if (opts.uploader !== null) {
    const maker = history?.serverId ?? existing?.serverId;
    if (maker !== undefined && maker !== opts.uploader) {
      throw new ImportRefused(
        maker === null
          ? `${recordID} was imported by the operator (bbblb recording import); a server cannot replace it`
          : `${recordID} was made on server ${maker}, not on server ${opts.uploader}: only its server may replace it`,
      );
    }
    if (history) return { tenant: history.tenant, meetingID: history.meetingID, historyId, serverId: maker! };
    if (existing) {
      return { tenant: existing.tenant, meetingID: existing.meetingID, historyId, serverId: maker! };
    }
    if (claimed !== DEFAULT_TENANT) {
      throw new ImportRefused(
        `${recordID} names tenant "${claimed}" but bbblb has no history of its meeting; if it is that tenant's, ` +
          `import it with bbblb recording import --tenant ${claimed}`,
      );
    }
    return { tenant: DEFAULT_TENANT, meetingID: md.externalMeetingID, historyId, serverId: opts.uploader };
  }
  const serverId = history?.serverId ?? existing?.serverId ?? null;
  if (opts.tenant !== undefined) {
    const meetingID = history?.tenant === opts.tenant ? history.meetingID : unscoped(opts.tenant);
    return { tenant: opts.tenant, meetingID, historyId, serverId };
  }
  if (history) return { tenant: history.tenant, meetingID: history.meetingID, historyId, serverId };
  if (existing) return { tenant: existing.tenant, meetingID: existing.meetingID, historyId, serverId };
  if (claimed !== DEFAULT_TENANT) {
    throw new ImportRefused(
      `${recordID} names tenant "${claimed}" but bbblb has no history of its meeting: ` +
        `give --tenant ${claimed} (or --tenant default) to say whose it is`,
    );
  }
  return { tenant: DEFAULT_TENANT, meetingID: md.externalMeetingID, historyId, serverId };
}

async function readMetadata(path: string): Promise<FormatMetadata> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    throw new MetadataError("there is no metadata.xml in its folder");
  }
  if (!info.isFile || info.size > MAX_METADATA_BYTES) {
    throw new MetadataError("its metadata.xml is not a small file");
  }
  return parseMetadataXml(await Deno.readTextFile(path));
}

async function importOne(
  ctx: ImportContext,
  staged: string,
  item: StagedItem,
  opts: ImportOptions,
): Promise<RecordingRecord> {
  const now = ctx.now ?? Date.now;
  const md = await readMetadata(join(staged, "metadata.xml"));
  if (md.recordID !== item.recordID) {
    throw new MetadataError(`its metadata.xml is for ${md.recordID}, not for the folder's ${item.recordID}`);
  }
  if (md.playback.format !== item.format) {
    throw new MetadataError(`its metadata.xml is for format ${md.playback.format}, not ${item.format}`);
  }
  const owner = await resolveOwner(ctx, md, item.recordID, opts);
  const deadline = now() + LOCK_MS;
  while (!(await tryLockRecording(ctx.kv, item.recordID, ctx.owner, LOCK_MS, now()))) {
    if (now() > deadline) throw new ImportRefused(`${item.recordID} stayed locked by another import`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const target = formatDir(ctx.dir, item.format, item.recordID);
  let old: string | null = null;
  try {
    old = await swapIn(ctx.dir, staged, target, ctx.fileOwner ?? null);
    const format: FormatRecord = {
      format: item.format,
      linkPath: pathOf(md.playback.link),
      processingTime: md.playback.processingTime,
      duration: md.playback.duration,
      size: md.playback.size,
      bytes: item.bytes,
      images: md.playback.images.map((i) => ({
        path: pathOf(i.url),
        width: i.width,
        height: i.height,
        alt: i.alt,
      })),
      importedAt: now(),
      serverId: opts.uploader,
    };
    let record: RecordingRecord | null;
    try {
      record = await updateRecording(
        ctx.kv,
        item.recordID,
        (current) =>
          mergeFormat(current, { md, format, owner, unpublished: opts.unpublished ?? false, now: now() }),
      );
    } catch (e) {
      // The record could not be written: put the old files back, so files and record agree.
      const failed = join(trashRoot(ctx.dir), newFolderId());
      await Deno.rename(target, failed);
      if (old) await Deno.rename(old, target);
      old = failed;
      throw e;
    }
    return record!;
  } finally {
    await unlockRecording(ctx.kv, item.recordID, ctx.owner).catch(() => {});
    if (old) await removeTree(old).catch(() => {});
  }
}

/**
 * Rename a staged folder into place; an existing folder there is first renamed into the trash.
 *
 * @returns where the replaced folder went, or `null` when there was none
 */
async function swapIn(
  dir: string,
  staged: string,
  target: string,
  owner: { uid: number; gid: number } | null,
): Promise<string | null> {
  await makeDir(dirname(target), owner);
  let old: string | null = join(trashRoot(dir), newFolderId());
  try {
    await Deno.rename(target, old);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    old = null;
  }
  try {
    await Deno.rename(staged, target);
  } catch (e) {
    if (old) await Deno.rename(old, target);
    throw e;
  }
  return old;
}

/** What {@linkcode mergeFormat} merges. */
export interface MergeInput {
  md: FormatMetadata;
  format: FormatRecord;
  owner: Owner;
  unpublished: boolean;
  now: number;
}

/**
 * The record after importing one format: what `metadata.xml` says replaces what an earlier import said; the
 * format is added or replaced; what was changed through bbblb (state, metadata changes, text tracks, whether the
 * recording-ready callback went out) is kept.
 */
export function mergeFormat(current: RecordingRecord | null, input: MergeInput): RecordingRecord {
  const { md, owner } = input;
  let state: RecordingRecord["state"];
  let setByBbblb = current?.stateSetByBbblb ?? false;
  if (current && setByBbblb) state = current.state;
  else if (input.unpublished) {
    state = "unpublished";
    setByBbblb = true;
  } else if (md.state === "deleted") state = "deleted";
  else state = md.published && md.state !== "unpublished" ? "published" : "unpublished";
  return {
    recordID: md.recordID,
    tenant: owner.tenant,
    meetingID: owner.meetingID,
    internalMeetingID: md.internalMeetingID ?? internalIdOf(md.recordID),
    historyId: owner.historyId,
    serverId: owner.serverId,
    name: md.name,
    isBreakout: md.isBreakout,
    startTime: md.startTime,
    endTime: md.endTime,
    participants: md.participants,
    rawSize: md.rawSize,
    meta: md.meta,
    breakout: md.breakout,
    breakoutRooms: md.breakoutRooms,
    formats: { ...(current?.formats ?? {}), [input.format.format]: input.format },
    state,
    stateSetByBbblb: setByBbblb,
    metaChanges: current?.metaChanges ?? {},
    textTracks: current?.textTracks ?? [],
    readyNotified: current?.readyNotified ?? false,
    createdAt: current?.createdAt ?? input.now,
    updatedAt: input.now,
  };
}
