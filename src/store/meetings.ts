/**
 * Meetings in the store: the claim that places a meeting, its life while it runs, its end, and its history.
 *
 * Invariant (the reason every change here is one atomic operation guarded by `check`s): for every server,
 * `["load", id]` equals the sum of `loadMilli` over the meetings whose record names that server, and every such
 * meeting has exactly one `["meeting_by_server", id, …]` index entry. A meeting record is inserted only if
 * absent and removed only if unchanged since it was read, so no change is applied twice.
 *
 * @module
 */
import type { Params } from "../bbb/query.ts";
import { commitWithRetry, writeBatched } from "./kv.ts";
import { keys } from "./keys.ts";
import { addLoad } from "./load.ts";

/** The running (or being created) instance of a meetingID. */
export interface MeetingRecord {
  /** Tenant slot ({@linkcode DEFAULT_TENANT} for now). */
  tenant: string;
  /** The front-end's meetingID. */
  meetingID: string;
  /** The server it was placed on. */
  serverId: number;
  /** Id of this instance in the history. */
  historyId: string;
  /**
   * `creating` from the claim while its create is in flight; `doubt` when the create ended without an answer
   * that says whether BBB created the meeting (a timeout, a reset, a 5xx: see `cluster/lifecycle.ts`, which
   * settles it by asking the server); `running` once BBB answered the create.
   */
  status: "creating" | "doubt" | "running";
  /** When the claim was made (ms since the epoch). */
  claimedAt: number;
  /**
   * When bbblb learned that this instance runs (ms since the epoch): the create answer arrived, the meeting was
   * adopted or switched to. Only getMeetings requests started after it can show the meeting ended. Absent in
   * records written before it existed: `claimedAt` stands in.
   */
  runningSince?: number;
  /** The create of a `doubt` claim ended at (ms since the epoch). */
  doubtSince?: number;
  /**
   * Set once bbblb switched this meeting to a copy it found on another server that had the participants (split
   * healing): it is never switched back, so a split cannot flip-flop.
   */
  splitSwitched?: boolean;
  /** Declared load in milli-units (create's `load` × 1000). */
  loadMilli: number;
  /** BBB's internalMeetingID (the recordID prefix), once running. */
  internalMeetingID: string | null;
  /** BBB's createTime (ms, as BBB sent it), once running. */
  createTime: string | null;
  /** Passwords BBB answered at create (BBB generates them when the client gives none). */
  attendeePW: string | null;
  /** @see attendeePW */
  moderatorPW: string | null;
  /** The voiceBridge BBB answered. */
  voiceBridge: string | null;
  /** Earlier instances this meeting was moved away from (failover, move), oldest first. */
  movedFrom: PreviousInstance[];
}

/** An instance a meeting was moved away from. */
export interface PreviousInstance {
  serverId: number;
  historyId: string;
  internalMeetingID: string | null;
  /** Its createTime: a join carrying it is forwarded with the current instance's createTime. */
  createTime: string | null;
}

/** What the poller last saw of a meeting on its server. Written by the poller only. */
export interface MeetingLive {
  /** The instance these numbers belong to. */
  historyId: string;
  participants: number;
  listeners: number;
  voiceParticipants: number;
  videos: number;
  moderators: number;
  /** Consecutive poll rounds in which the server did not list the meeting as running. */
  missed: number;
}

/** One meeting instance ever created, kept after it ended (rejoin links and recordings need it). */
export interface HistoryRecord {
  historyId: string;
  tenant: string;
  meetingID: string;
  serverId: number;
  /** When the instance was claimed (ms since the epoch). */
  createdAt: number;
  /** When bbblb learned it ended (ms), or `null` while it runs. */
  endedAt: number | null;
  /** Why it ended: `end` (a front-end ended it), `serverRemoved`, … */
  endReason: string | null;
  /** The historyId of the instance it was moved to, or `null`. */
  movedTo: string | null;
  internalMeetingID: string | null;
  createTime: string | null;
}

/** The history row of a new meeting instance. */
function newHistory(
  m: { historyId: string; tenant: string; meetingID: string; serverId: number },
  now: number,
  details?: { internalMeetingID: string | null; createTime: string | null },
): HistoryRecord {
  return {
    historyId: m.historyId,
    tenant: m.tenant,
    meetingID: m.meetingID,
    serverId: m.serverId,
    createdAt: now,
    endedAt: null,
    endReason: null,
    movedTo: null,
    internalMeetingID: details?.internalMeetingID ?? null,
    createTime: details?.createTime ?? null,
  };
}

/**
 * A new history id: 12 hex digits of milliseconds then 12 random hex digits, so ids sort by creation time.
 */
export function newHistoryId(now: number = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return now.toString(16).padStart(12, "0") +
    Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The current record of a meetingID (with its versionstamp, for guarded changes). */
export function getMeeting(
  kv: Deno.Kv,
  tenant: string,
  meetingID: string,
): Promise<Deno.KvEntryMaybe<MeetingRecord>> {
  return kv.get<MeetingRecord>(keys.meeting(tenant, meetingID));
}

/** What {@linkcode claimMeeting} needs. */
export interface ClaimRequest {
  tenant: string;
  meetingID: string;
  serverId: number;
  /** Declared load in milli-units. */
  loadMilli: number;
  /** The server's load as placement read it (milli-units and versionstamp): the claim fails if it changed since. */
  loadEntry: { value: number; versionstamp: string | null };
  /** A voiceBridge to reserve cluster-wide: the claim fails if another meeting holds it. */
  voiceBridge?: string | null;
  /**
   * PINs that must be free too for `voiceBridge` to be reserved (its breakout rooms' PINs and the PINs whose
   * breakout rooms would have it; see `cluster/voice_bridge.ts`): the claim fails if another meeting holds one.
   */
  relatedVoiceBridges?: readonly string[];
  /** The history id of the new instance. @default a new one */
  historyId?: string;
  /**
   * The versionstamp of the servers' version as placement read it (`keys.serversVersion`): the claim fails if a
   * server changed since. Not checked when left out.
   */
  serversVersionstamp?: string | null;
  /**
   * The create parameters as BBB gets them: kept in the claim's own commit when they fit
   * ({@linkcode paramsFitClaim}), so marking it running (or in doubt) writes none, and a claim settled after a
   * crash is tracked with them.
   */
  params?: Params;
  now: number;
}

/**
 * Claim a meetingID for a server: inserts the meeting (status `creating`), its index entry, its history row
 * and its voiceBridge reservation, and adds its load, in one atomic operation. It fails (returns `null`) when the
 * meetingID or the voiceBridge is taken or the server's load changed since placement read it; the caller
 * re-reads and decides again.
 */
export async function claimMeeting(
  kv: Deno.Kv,
  req: ClaimRequest,
): Promise<Deno.KvEntry<MeetingRecord> | null> {
  const historyId = req.historyId ?? newHistoryId(req.now);
  const meeting: MeetingRecord = {
    tenant: req.tenant,
    meetingID: req.meetingID,
    serverId: req.serverId,
    historyId,
    status: "creating",
    claimedAt: req.now,
    loadMilli: req.loadMilli,
    internalMeetingID: null,
    createTime: null,
    attendeePW: null,
    moderatorPW: null,
    voiceBridge: req.voiceBridge ?? null,
    movedFrom: [],
  };
  const history = newHistory(meeting, req.now);
  const key = keys.meeting(req.tenant, req.meetingID);
  const loadKey = keys.load(req.serverId);
  const vb = req.voiceBridge ? keys.voiceBridge(req.voiceBridge) : null;
  const inlineChunks = req.params && paramsFitClaim(req.params) ? paramChunks(req.params) : [];
  const res = await commitWithRetry(() => {
    const op = kv.atomic();
    if (vb) {
      op.check({ key: vb, versionstamp: null }).set(vb, { tenant: req.tenant, meetingID: req.meetingID });
      for (const pin of req.relatedVoiceBridges ?? []) {
        op.check({ key: keys.voiceBridge(pin), versionstamp: null });
      }
    }
    if (req.serversVersionstamp !== undefined) {
      op.check({ key: keys.serversVersion(), versionstamp: req.serversVersionstamp });
    }
    op
      .check({ key, versionstamp: null })
      // The server's load as placement saw it: concurrent claims on one server serialise here, so a burst
      // spreads instead of piling onto the server that looked emptiest. Removing a server deletes this key,
      // so a claim on a removed server fails too.
      .check({ key: loadKey, versionstamp: req.loadEntry.versionstamp })
      .set(key, meeting)
      .set(keys.meetingByServer(req.serverId, req.tenant, req.meetingID), historyId)
      .sum(loadKey, BigInt(req.loadMilli))
      .set(keys.history(historyId), history);
    inlineChunks.forEach((c, j) => op.set(keys.createParams(historyId, j), c));
    return op;
  });
  return res.ok ? { key, value: meeting, versionstamp: res.versionstamp } : null;
}

/** What BBB answered to a successful create. */
export interface CreateDetails {
  internalMeetingID: string | null;
  createTime: string | null;
  attendeePW: string | null;
  moderatorPW: string | null;
  voiceBridge: string | null;
}

/**
 * Mark a claimed meeting as running with what BBB answered, and keep its create parameters (chunked, since
 * `welcome` or `groups` can exceed one 64 KiB value).
 *
 * A fresh claim (status `creating`) is marked running in one commit together with its parameters (when they fit
 * in a few chunks) and its history row: each commit to a file store costs an fsync (~0.5 ms measured on these
 * machines), and this is on every create's path. A running meeting (BBB opened a new session of it) is updated
 * as before: parameters first, then the record and its history row, checked.
 *
 * @param params `null`: they were kept with the claim ({@linkcode ClaimRequest.params}), nothing to write
 * @returns the new entry, or `null` when the claim was changed or removed meanwhile
 */
export async function markRunning(
  kv: Deno.Kv,
  claim: Deno.KvEntry<MeetingRecord>,
  details: CreateDetails,
  params: Params | null,
): Promise<Deno.KvEntry<MeetingRecord> | null> {
  const meeting: MeetingRecord = { ...claim.value, ...details, status: "running", runningSince: Date.now() };
  delete meeting.doubtSince;
  const chunks = params === null ? [] : paramChunks(params);
  const inline = claim.value.status !== "running" && chunks.length <= INLINE_CHUNKS;
  if (!inline && params !== null) await saveCreateParams(kv, claim.value.historyId, params);
  for (let i = 0; i < 10; i++) {
    // A claim's history row is the one claimMeeting wrote (every change to it also changes the claim, which is
    // checked), so it is rebuilt rather than read.
    const history = inline
      ? { value: claimHistory(claim.value), versionstamp: null }
      : await kv.get<HistoryRecord>(keys.history(claim.value.historyId));
    const res = await commitWithRetry(() => {
      const op = kv.atomic().check(claim).set(claim.key, meeting);
      if (inline) chunks.forEach((c, j) => op.set(keys.createParams(meeting.historyId, j), c));
      if (details.internalMeetingID) {
        op.set(keys.recordingServer(details.internalMeetingID), meeting.serverId);
      }
      if (history.value) {
        if (!inline) op.check(history as Deno.KvEntry<HistoryRecord>);
        op.set(keys.history(meeting.historyId), {
          ...history.value,
          internalMeetingID: details.internalMeetingID,
          createTime: details.createTime,
        });
      }
      return op;
    });
    if (res.ok) return { key: claim.key, value: meeting, versionstamp: res.versionstamp };
    if (inline || (await kv.get(claim.key)).versionstamp !== claim.versionstamp) return null;
  }
  return null;
}

/** Parameters that fit in this many chunks are stored in the commit of the claim, or that marks it running. */
const INLINE_CHUNKS = 4;

/** Whether create parameters are kept in the claim's own commit (see {@linkcode ClaimRequest.params}). */
export function paramsFitClaim(params: Params): boolean {
  return paramChunks(params).length <= INLINE_CHUNKS;
}

/** The history row {@linkcode claimMeeting} wrote for a claim. */
function claimHistory(m: MeetingRecord): HistoryRecord {
  return {
    historyId: m.historyId,
    tenant: m.tenant,
    meetingID: m.meetingID,
    serverId: m.serverId,
    createdAt: m.claimedAt,
    endedAt: null,
    endReason: null,
    movedTo: null,
    internalMeetingID: null,
    createTime: null,
  };
}

/** The create parameters as the chunks they are stored in. */
function paramChunks(params: Params): Uint8Array[] {
  const bytes = new TextEncoder().encode(JSON.stringify(params));
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) chunks.push(bytes.subarray(at, at + CHUNK_BYTES));
  return chunks;
}

const CHUNK_BYTES = 60 * 1024;

/** Keep the create parameters of a meeting instance (chunked; see {@linkcode markRunning}). */
export async function saveCreateParams(kv: Deno.Kv, historyId: string, params: Params): Promise<void> {
  const chunks = paramChunks(params);
  // Several small commits: a large single commit could exceed the store's per-operation size limit. The keys
  // belong to this history id alone, so partial writes are harmless until the meeting is marked running.
  for (let i = 0; i < chunks.length; i += 8) {
    await commitWithRetry(() => {
      const op = kv.atomic();
      chunks.slice(i, i + 8).forEach((c, j) => op.set(keys.createParams(historyId, i + j), c));
      return op;
    });
  }
  // Chunks of longer parameters saved before for this instance would corrupt the JSON: drop them.
  for await (const old of kv.list({ prefix: keys.createParamsOf(historyId) })) {
    if ((old.key.at(-1) as number) >= chunks.length) await kv.delete(old.key);
  }
}

/** The create parameters kept for a meeting instance, or `null` when none were kept. */
export async function loadCreateParams(kv: Deno.Kv, historyId: string): Promise<Params | null> {
  const chunks = await Array.fromAsync(kv.list<Uint8Array>({ prefix: keys.createParamsOf(historyId) }));
  if (chunks.length === 0) return null;
  const total = chunks.reduce((n, c) => n + c.value.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c.value, at);
    at += c.value.length;
  }
  return JSON.parse(new TextDecoder().decode(bytes));
}

/**
 * Remove a meeting and subtract its load, exactly once: only if the record is still the one that was read.
 *
 * @param reason recorded in the history (`end`, `createFailed`, …); `createFailed` deletes the history row and
 *   the kept parameters instead, since that instance never existed. `dropped` (the server stopped listing the
 *   meeting; bbblb did not end it) also leaves a `dropped` mark on that server (see {@linkcode SeenRecord}), so
 *   a create within the hour asks that server before placing the meeting again.
 * @returns `true` if this call removed it; `false` if it had changed or gone meanwhile (nothing was written)
 */
export async function removeMeeting(
  kv: Deno.Kv,
  entry: Deno.KvEntry<MeetingRecord>,
  reason: string,
  now: number = Date.now(),
): Promise<boolean> {
  const m = entry.value;
  for (let i = 0; i < 200; i++) {
    const [load, history, vb] = await kv.getMany<
      [Deno.KvU64, HistoryRecord, { tenant: string; meetingID: string }]
    >([
      keys.load(m.serverId),
      keys.history(m.historyId),
      keys.voiceBridge(m.voiceBridge ?? ""),
    ]);
    const res = await commitWithRetry(() => {
      const op = kv.atomic();
      if (vb.value?.tenant === m.tenant && vb.value.meetingID === m.meetingID) op.check(vb).delete(vb.key);
      op
        .check(entry) // exactly once: the load change below is applied only with this removal
        .delete(entry.key)
        .delete(keys.meetingByServer(m.serverId, m.tenant, m.meetingID))
        .delete(keys.meetingLive(m.tenant, m.meetingID));
      // A removed server's load key is gone; it must not come back as a wrapped negative sum.
      if (load.value !== null) addLoad(op, m.serverId, -m.loadMilli);
      else op.check(load);
      if (reason === "dropped") {
        const mark: SeenRecord = { kind: "dropped", since: now, emptyRounds: 0, participants: 0 };
        op.set(keys.seen(m.tenant, m.meetingID, m.serverId), mark, { expireIn: DROPPED_MARK_MS });
      }
      if (reason === "createFailed") {
        op.delete(history.key);
      } else if (history.value) {
        op.check(history).set(history.key, { ...history.value, endedAt: now, endReason: reason });
      }
      return op;
    });
    if (res.ok) {
      if (reason === "createFailed") {
        for await (const c of kv.list({ prefix: keys.createParamsOf(m.historyId) })) await kv.delete(c.key);
      }
      return true;
    }
    if ((await kv.get(entry.key)).versionstamp !== entry.versionstamp) return false;
  }
  throw new Error(`could not remove meeting ${m.meetingID}: the store stayed contended`);
}

/**
 * Mark a claim whose create ended without a telling answer as in doubt, keeping the create parameters so that a
 * late success can be tracked with them. Guarded like every change of a meeting.
 *
 * @param params `null`: they were kept with the claim
 * @returns the new entry, or `null` when the claim changed or went meanwhile
 */
export async function markDoubt(
  kv: Deno.Kv,
  claim: Deno.KvEntry<MeetingRecord>,
  params: Params | null,
  now: number = Date.now(),
): Promise<Deno.KvEntry<MeetingRecord> | null> {
  if (params !== null) await saveCreateParams(kv, claim.value.historyId, params);
  const meeting: MeetingRecord = { ...claim.value, status: "doubt", doubtSince: now };
  const res = await commitWithRetry(() => kv.atomic().check(claim).set(claim.key, meeting));
  return res.ok ? { key: claim.key, value: meeting, versionstamp: res.versionstamp } : null;
}

/** How long a `dropped` mark is kept (ms): a meeting its server stopped listing is asked for there for an hour. */
export const DROPPED_MARK_MS = 60 * 60 * 1000;

/**
 * What bbblb knows of a meetingID on a server that its record does not name (`["seen", tenant, meetingID,
 * serverId]`). Written by the poller (and by `removeMeeting` for `dropped`); read before a meeting is placed, so
 * a create goes where the meeting already runs instead of opening a second room.
 */
export interface SeenRecord {
  /**
   * `copy`: the server lists the meeting running while bbblb's record names another server (a split), or no
   * record exists any more; `dropped`: the server stopped listing the meeting and bbblb forgot it.
   */
  kind: "copy" | "dropped";
  /** When it was first seen, or dropped (ms since the epoch). */
  since: number;
  /** Consecutive poll rounds in which the copy had no participants. */
  emptyRounds: number;
  /** Participants in the copy at the last poll round. */
  participants: number;
}

/** The marks of a meetingID on servers its record does not name (see {@linkcode SeenRecord}). */
export async function listSeen(
  kv: Deno.Kv,
  tenant: string,
  meetingID: string,
): Promise<Deno.KvEntry<SeenRecord>[]> {
  return await Array.fromAsync(kv.list<SeenRecord>({ prefix: keys.seenOf(tenant, meetingID) }));
}

/** Every mark of every meetingID (the poller reads them once a round). */
export async function listAllSeen(kv: Deno.Kv): Promise<Deno.KvEntry<SeenRecord>[]> {
  return await Array.fromAsync(kv.list<SeenRecord>({ prefix: keys.allSeen() }));
}

/** The server of a mark's key. */
export function seenServer(entry: Deno.KvEntry<SeenRecord>): number {
  return entry.key[3] as number;
}

/** A meetingID running on two servers: bbblb's record names `serverId`; a copy runs on `copyServerId`. */
export interface Split {
  tenant: string;
  meetingID: string;
  serverId: number;
  copyServerId: number;
  /** Participants in the copy at the last poll round. */
  copyParticipants: number;
  /** Since when the copy is known (ms since the epoch). */
  since: number;
}

/** The splits the poller currently knows (copies of meetings bbblb records on another server). */
export async function listSplits(kv: Deno.Kv): Promise<Split[]> {
  const out: Split[] = [];
  for (const mark of await listAllSeen(kv)) {
    if (mark.value.kind !== "copy") continue;
    const [, tenant, meetingID, copyServerId] = mark.key as [string, string, string, number];
    const record = (await getMeeting(kv, tenant, meetingID)).value;
    if (!record || record.serverId === copyServerId) continue;
    out.push({
      tenant,
      meetingID,
      serverId: record.serverId,
      copyServerId,
      copyParticipants: mark.value.participants,
      since: mark.value.since,
    });
  }
  return out;
}

/** Write (or with `null`, delete) the mark of a meetingID on a server. */
export async function setSeen(
  kv: Deno.Kv,
  tenant: string,
  meetingID: string,
  serverId: number,
  mark: SeenRecord | null,
): Promise<void> {
  const key = keys.seen(tenant, meetingID, serverId);
  await commitWithRetry(() => mark ? kv.atomic().set(key, mark) : kv.atomic().delete(key));
}

/**
 * Wait while a meetingID's claim is in flight (another request is creating it), polling every 25 ms.
 *
 * @param timeoutMs give up after this long and return whatever is there
 * @returns the settled record (running), `null` when it is absent, or the still-`creating` entry on timeout
 */
export async function waitWhileCreating(
  kv: Deno.Kv,
  tenant: string,
  meetingID: string,
  timeoutMs: number,
): Promise<Deno.KvEntryMaybe<MeetingRecord>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entry = await getMeeting(kv, tenant, meetingID);
    if (entry.value?.status !== "creating" || Date.now() >= deadline) return entry;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** What {@linkcode switchServer} needs: the new instance, already created on the target server. */
export interface SwitchRequest {
  /** The target server. */
  serverId: number;
  /** The new instance's history id (generated before its create, for its logout link). */
  historyId: string;
  /** What the target answered to the create. */
  details: CreateDetails;
  now: number;
  /** Split healing: the copy switched to was found, not created; the meeting is never switched back. */
  splitSwitched?: boolean;
}

/**
 * Switch a running meeting to the instance just created on another server, in one atomic operation: the record
 * names the target, the index entry and the declared load move with it, the old instance's history row records
 * `movedTo` and its end, a new history row starts, and the old instance is remembered in `movedFrom`. Nothing
 * changes until the target has the meeting, so a failed move leaves the meeting where it was.
 *
 * @returns the new entry, or `null` when the meeting changed meanwhile (ended, moved, re-created)
 */
export async function switchServer(
  kv: Deno.Kv,
  entry: Deno.KvEntry<MeetingRecord>,
  req: SwitchRequest,
): Promise<Deno.KvEntry<MeetingRecord> | null> {
  const old = entry.value;
  if (old.serverId === req.serverId) throw new Error("switchServer: the target is the current server");
  const moved: MeetingRecord = {
    ...old,
    ...req.details,
    voiceBridge: old.voiceBridge ?? req.details.voiceBridge,
    serverId: req.serverId,
    historyId: req.historyId,
    status: "running",
    claimedAt: req.now,
    runningSince: req.now,
    ...(req.splitSwitched || old.splitSwitched ? { splitSwitched: true } : {}),
    movedFrom: [...old.movedFrom, {
      serverId: old.serverId,
      historyId: old.historyId,
      internalMeetingID: old.internalMeetingID,
      createTime: old.createTime,
    }],
  };
  const history = newHistory(moved, req.now, req.details);
  for (let i = 0; i < 50; i++) {
    const [oldLoad, newLoad, oldHistory] = await kv.getMany<[Deno.KvU64, Deno.KvU64, HistoryRecord]>([
      keys.load(old.serverId),
      keys.load(req.serverId),
      keys.history(old.historyId),
    ]);
    if (newLoad.value === null) return null; // the target was removed meanwhile
    const res = await commitWithRetry(() => {
      const op = kv.atomic()
        .check(entry) // exactly once: the load changes below are applied only with this switch
        .check(oldHistory)
        .set(entry.key, moved)
        .delete(keys.meetingByServer(old.serverId, old.tenant, old.meetingID))
        .set(keys.meetingByServer(req.serverId, old.tenant, old.meetingID), req.historyId)
        .delete(keys.meetingLive(old.tenant, old.meetingID))
        .set(keys.history(req.historyId), history);
      addLoad(op, req.serverId, old.loadMilli);
      if (req.details.internalMeetingID) {
        op.set(keys.recordingServer(req.details.internalMeetingID), req.serverId);
      }
      if (oldLoad.value !== null) addLoad(op, old.serverId, -old.loadMilli);
      else op.check(oldLoad);
      if (oldHistory.value) {
        op.set(oldHistory.key, {
          ...oldHistory.value,
          endedAt: req.now,
          endReason: "moved",
          movedTo: req.historyId,
        });
      }
      return op;
    });
    if (res.ok) return { key: entry.key, value: moved, versionstamp: res.versionstamp };
    if ((await kv.get(entry.key)).versionstamp !== entry.versionstamp) return null;
  }
  throw new Error(`could not move meeting ${old.meetingID}: the store stayed contended`);
}

/** What {@linkcode adoptMeeting} needs: a running meeting found on a server that bbblb did not place. */
export interface AdoptRequest {
  tenant: string;
  meetingID: string;
  serverId: number;
  details: CreateDetails;
  /** Declared load in milli-units (1000: adopted meetings count as load 1). */
  loadMilli: number;
  /** The server record's versionstamp as read: adoption fails if the server was removed or changed since. */
  serverVersionstamp: string;
  now: number;
}

/**
 * Adopt a meeting a server runs that bbblb does not know (created directly on the server, or left over from a
 * lost claim), so that every call agrees with the server. One atomic operation, like a claim.
 *
 * @returns the entry, or `null` when the meetingID was taken or the server changed meanwhile
 */
export async function adoptMeeting(
  kv: Deno.Kv,
  req: AdoptRequest,
): Promise<Deno.KvEntry<MeetingRecord> | null> {
  const historyId = newHistoryId(req.now);
  const meeting: MeetingRecord = {
    tenant: req.tenant,
    meetingID: req.meetingID,
    serverId: req.serverId,
    historyId,
    status: "running",
    claimedAt: req.now,
    runningSince: req.now,
    loadMilli: req.loadMilli,
    ...req.details,
    movedFrom: [],
  };
  const history = newHistory(meeting, req.now, req.details);
  const key = keys.meeting(req.tenant, req.meetingID);
  const res = await commitWithRetry(() => {
    const op = kv.atomic()
      .check({ key, versionstamp: null })
      .check({ key: keys.server(req.serverId), versionstamp: req.serverVersionstamp })
      .set(key, meeting)
      .set(keys.meetingByServer(req.serverId, req.tenant, req.meetingID), historyId)
      .set(keys.history(historyId), history);
    addLoad(op, req.serverId, req.loadMilli);
    if (req.details.internalMeetingID) {
      op.set(keys.recordingServer(req.details.internalMeetingID), req.serverId);
    }
    return op;
  });
  return res.ok ? { key, value: meeting, versionstamp: res.versionstamp } : null;
}

/** The servers known to hold these recordIDs (from meeting instances, or remembered from earlier look-ups). */
export async function recordingServers(
  kv: Deno.Kv,
  recordIDs: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < recordIDs.length; i += 10) {
    const batch = recordIDs.slice(i, i + 10);
    const entries = await kv.getMany<number[]>(batch.map((id) => keys.recordingServer(id)));
    entries.forEach((e, j) => {
      if (e.value !== null) out.set(batch[j], e.value);
    });
  }
  return out;
}

/** Remember which server holds each recordID (found by asking the servers). */
export async function rememberRecordingServers(kv: Deno.Kv, found: Map<string, number>): Promise<void> {
  const items = [...found];
  for (let i = 0; i < items.length; i += 500) {
    await commitWithRetry(() => {
      const op = kv.atomic();
      for (const [id, server] of items.slice(i, i + 500)) op.set(keys.recordingServer(id), server);
      return op;
    });
  }
}

/** Every meeting record (all tenants, all servers). */
export async function listAllMeetings(kv: Deno.Kv): Promise<Deno.KvEntry<MeetingRecord>[]> {
  return await Array.fromAsync(kv.list<MeetingRecord>({ prefix: keys.allMeetings() }));
}

/** The meeting records of one tenant (by its slot: `""` for the default tenant), on every server. */
export async function listTenantMeetings(kv: Deno.Kv, tenant: string): Promise<MeetingRecord[]> {
  return (await Array.fromAsync(kv.list<MeetingRecord>({ prefix: keys.meetings(tenant) }))).map((e) =>
    e.value
  );
}

/** Every live record, keyed by `tenant + "\u0000" + meetingID`. */
export async function listAllLive(kv: Deno.Kv): Promise<Map<string, Deno.KvEntry<MeetingLive>>> {
  const out = new Map<string, Deno.KvEntry<MeetingLive>>();
  for await (const e of kv.list<MeetingLive>({ prefix: keys.allMeetingLive() })) {
    out.set(meetingRef(e.key[1] as string, e.key[2] as string), e);
  }
  return out;
}

/** A map key for a meeting of a tenant. */
export function meetingRef(tenant: string, meetingID: string): string {
  return `${tenant}\u0000${meetingID}`;
}

/**
 * Claims nobody will settle by themselves: in doubt (their create ended without a telling answer), or still
 * `creating` after `staleMs` (the process making them died). `cluster/lifecycle.ts` settles them by asking
 * their server.
 */
export async function listUnsettledClaims(
  kv: Deno.Kv,
  staleMs: number,
  now: number = Date.now(),
): Promise<Deno.KvEntry<MeetingRecord>[]> {
  return (await listAllMeetings(kv)).filter((e) => isUnsettled(e.value, staleMs, now));
}

/** Whether a claim is left for others to settle (see {@linkcode listUnsettledClaims}). */
export function isUnsettled(m: MeetingRecord, staleMs: number, now: number): boolean {
  return m.status === "doubt" || (m.status === "creating" && now - m.claimedAt > staleMs);
}

/**
 * The history row of the meeting instance whose BBB internalMeetingID is `internalMeetingID` (a recording's
 * recordID is its meeting's internalMeetingID, `sha1(meetingID)-<createTime ms>`), or `null`. History ids start
 * with their creation time, so only the rows created around that createTime are read: a claim is made just
 * before BBB's create, an adoption within a poll round or so after it (or, for a meeting that ran while bbblb was
 * installed, later): first a window of an hour either side, then of a week after.
 */
export async function findHistoryByInternalId(
  kv: Deno.Kv,
  internalMeetingID: string,
): Promise<HistoryRecord | null> {
  const m = /^[0-9a-f]{40}-(\d{10,16})$/.exec(internalMeetingID);
  if (!m) return null;
  const createTime = Number(m[1]);
  const hour = 3600_000;
  for (
    const [from, to] of [[createTime - hour, createTime + hour], [
      createTime + hour,
      createTime + 7 * 24 * hour,
    ]]
  ) {
    const start = keys.history(newHistoryId(Math.max(0, from)).slice(0, 12));
    const end = keys.history(newHistoryId(Math.max(0, to)).slice(0, 12));
    for await (const e of kv.list<HistoryRecord>({ start, end })) {
      if (e.value.internalMeetingID === internalMeetingID) return e.value;
    }
  }
  return null;
}

/** A row of the meetings' history (every instance bbblb created or adopted), or `null`. */
export async function getHistory(kv: Deno.Kv, historyId: string): Promise<HistoryRecord | null> {
  return (await kv.get<HistoryRecord>(keys.history(historyId))).value;
}

/** The meetings placed on a server, as `[tenant, meetingID]`, from the by-server index. */
export async function meetingsOnServer(kv: Deno.Kv, serverId: number): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const e of kv.list({ prefix: keys.meetingsByServer(serverId) })) {
    const [, , tenant, meetingID] = e.key as [string, number, string, string];
    out.push([tenant, meetingID]);
  }
  return out;
}

/** Whether a tenant has any meeting record (running, claimed or in doubt). */
export async function hasMeetings(kv: Deno.Kv, tenant: string): Promise<boolean> {
  for await (const _ of kv.list({ prefix: keys.meetings(tenant) }, { limit: 1 })) return true;
  return false;
}

/**
 * Save what a poll round found about running meetings (`live` values by `[tenant, meetingID]`) and delete the
 * live records of meetings that are gone (`stale`, as read).
 */
export async function writeLive(
  kv: Deno.Kv,
  live: [tenant: string, meetingID: string, value: MeetingLive][],
  stale: Deno.KvEntry<MeetingLive>[],
): Promise<void> {
  await writeBatched(kv, [
    ...live.map(([tenant, meetingID, value]) => ({ key: keys.meetingLive(tenant, meetingID), value })),
    ...stale.map((e) => ({ key: e.key, value: null })),
  ]);
}
