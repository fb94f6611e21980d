/**
 * The meeting lifecycle: one meetingID, one room. Every decision about where a meeting runs is made here and
 * used by the API, the poller and the admin commands alike:
 *
 * - **Offline is not gone.** A meeting on an offline server is re-created elsewhere (failover) only when its
 *   server has given no valid BBB answer for the failover delay *and* a probe of the meeting there fails too
 *   ({@linkcode holderOf}). Before that every call about it answers `serverUnavailable` within the probe timeout.
 * - **In doubt is not failed.** A create that ended without a telling answer (timeout, reset, 5xx, garbage)
 *   leaves its claim in doubt; the next attempt asks that server first and tracks a late success
 *   ({@linkcode settleClaim}); only a definite "not there" or the server being gone frees it.
 * - **Know what runs before placing.** A create for a meetingID bbblb does not track first asks the servers that
 *   were last seen running it ({@linkcode adoptKnownCopy}).
 * - **Repeat creates respect admin state**, and **splits are healed by one sticky rule** (see `splitAction`).
 *
 * @module
 */
import { withServerTags } from "../balancer/tags.ts";
import { meetingNotFound } from "../bbb/errors.ts";
import type { Params } from "../bbb/query.ts";
import type { BbbResponse } from "../bbb/xml.ts";
import {
  adoptMeeting,
  claimMeeting,
  type CreateDetails,
  getMeeting,
  isUnsettled,
  listSeen,
  loadCreateParams,
  markRunning,
  type MeetingRecord,
  removeMeeting,
  type SeenRecord,
  seenServer,
  setSeen,
  waitWhileCreating,
} from "../store/meetings.ts";
import {
  getServerEntry,
  getServerWithHealth,
  isGone,
  listServers,
  type ServerRecord,
} from "../store/servers.ts";
import {
  callServer,
  type ClusterContext,
  createTimeoutOf,
  failoverDelayOf,
  serverUnavailable,
} from "./context.ts";
import { MAX_SERVERS_PER_CREATE } from "../balancer/placement.ts";
import { createBeingRecorded, createCall, createDetails, placeNewMeeting, type XmlBody } from "./create.ts";
import { endOn, moveMeeting } from "./move.ts";
import { backendMeetingID, scopeCreateParams } from "./tenancy.ts";
import { PROBE_TIMEOUT_MS, probeMeeting } from "./probe.ts";

/**
 * A claim older than this (ms) whose request never finished (its process died) is settled by others: longer
 * than any create request can take (each server tried within the create timeout), plus a margin.
 */
export function staleClaimMs(createTimeoutMs: number): number {
  return createTimeoutMs * MAX_SERVERS_PER_CREATE + 10_000;
}

/**
 * The longest a create, join or move may take end to end, in ms: a create tried on every server it may try,
 * probes and one repeat create. The request deadline of those calls is at least this.
 */
export function createDeadlineMs(createTimeoutMs: number, backendTimeoutMs: number): number {
  return createTimeoutMs * MAX_SERVERS_PER_CREATE + 2 * PROBE_TIMEOUT_MS + backendTimeoutMs;
}

/**
 * Where a running meeting's holder stands:
 * - `reachable`: its server is online (no probe was made);
 * - `running`: its server is offline, but a probe found the meeting running there;
 * - `absent`: the server answered that it does not run the meeting (it ended, or the server restarted);
 * - `unreachable`: no answer, but the server is not gone yet (the window before failover);
 * - `gone`: no valid answer for the failover delay and the probe failed too, or the server was removed.
 */
export type HolderState = "reachable" | "running" | "absent" | "unreachable" | "gone";

/** Find out where a running meeting's holder stands (see {@linkcode HolderState}). */
export async function holderOf(
  ctx: ClusterContext,
  m: MeetingRecord,
): Promise<{ state: HolderState; server?: ServerRecord }> {
  const s = await getServerWithHealth(ctx.kv, m.serverId);
  if (!s) return { state: "gone" };
  if (s.health.online) return { state: "reachable", server: s.server };
  const probe = await probeMeeting(ctx, s.server, backendMeetingID(m.tenant, m.meetingID));
  if (probe.state === "running") return { state: "running", server: s.server };
  if (probe.state === "absent") return { state: "absent", server: s.server };
  return { state: await goneNow(ctx, m.serverId) ? "gone" : "unreachable", server: s.server };
}

/** Whether a server is gone, by its health as it stands now (after the failure just recorded), or removed. */
async function goneNow(ctx: ClusterContext, serverId: number): Promise<boolean> {
  const s = await getServerWithHealth(ctx.kv, serverId);
  return !s || isGone(s.health, Date.now(), failoverDelayOf(ctx));
}

/** FAILED `serverUnavailable` for a meeting whose server does not answer but is not gone yet. */
function holderUnavailable(ctx: ClusterContext, serverId: number): Error {
  return serverUnavailable(
    `The meeting's BBB server (${serverId}) does not answer; if it stays silent for ${
      Math.round(failoverDelayOf(ctx) / 1000)
    } s, the next create or join re-creates the meeting on another server. Try again shortly.`,
  );
}

/** The current record of a tenant's meetingID, waiting while its create is in flight (bounded by `settleMs`). */
export async function settledMeeting(
  ctx: ClusterContext,
  tenant: string,
  meetingID: string,
): Promise<Deno.KvEntryMaybe<MeetingRecord>> {
  let entry = await getMeeting(ctx.kv, tenant, meetingID);
  if (entry.value?.status !== "creating") return entry;
  // This process answered the create and is recording BBB's answer: that takes a commit, not a poll interval.
  const recording = createBeingRecorded(tenant, meetingID);
  if (recording) {
    await recording;
    entry = await getMeeting(ctx.kv, tenant, meetingID);
    if (entry.value?.status !== "creating") return entry;
  }
  // A claim abandoned by a dead process will not settle: no waiting for it.
  if (Date.now() - entry.value.claimedAt > staleClaimMs(createTimeoutOf(ctx))) return entry;
  return await waitWhileCreating(ctx.kv, tenant, meetingID, ctx.settleMs);
}

/** What settling a claim came to: tracked as `running`, `released`, or still `pending`. */
export type Settlement = "running" | "released" | "pending";

/**
 * Settle a claim nobody else will: one in doubt, or one whose process died ({@linkcode isUnsettled}). Its server
 * is asked: running there → tracked as running (with the create parameters kept at the claim, or its meetingID
 * and name); a definite "not there" → released; no answer → released only if the server is gone, else left.
 */
export async function settleClaim(
  ctx: ClusterContext,
  claim: Deno.KvEntry<MeetingRecord>,
): Promise<Settlement> {
  const m = claim.value;
  const s = await getServerWithHealth(ctx.kv, m.serverId);
  const probe = s
    ? await probeMeeting(ctx, s.server, backendMeetingID(m.tenant, m.meetingID))
    : { state: "failed" as const, error: "the server was removed" };
  if (probe.state === "running") return await trackClaim(ctx, claim, probe.details) ? "running" : "pending";
  if (probe.state === "failed" && !(await goneNow(ctx, m.serverId))) return "pending";
  if (!(await removeMeeting(ctx.kv, claim, "createFailed"))) return "pending";
  ctx.log.warn("claim released: the server does not run the meeting", {
    meetingID: m.meetingID,
    tenant: m.tenant || undefined,
    server: m.serverId,
    why: probe.state === "absent" ? "not there" : "server gone",
  });
  return "released";
}

/**
 * A claim whose server runs the meeting (BBB did create it): tracked as running there, with the create
 * parameters kept at the claim (or its meetingID and name), so no later create places it on a second server.
 * Used by {@linkcode settleClaim} and by the poll round when the server lists the meeting.
 *
 * @returns whether this call tracked it (`false`: the claim changed meanwhile)
 */
export async function trackClaim(
  deps: Pick<ClusterContext, "kv" | "log">,
  claim: Deno.KvEntry<MeetingRecord>,
  details: CreateDetails,
): Promise<boolean> {
  const m = claim.value;
  const params = (await loadCreateParams(deps.kv, m.historyId)) ??
    scopeCreateParams(m.tenant, [["meetingID", m.meetingID], ["name", m.meetingID]]);
  if (
    !(await markRunning(
      deps.kv,
      claim,
      { ...details, voiceBridge: details.voiceBridge ?? m.voiceBridge },
      params,
    ))
  ) {
    return false;
  }
  deps.log.warn("claim settled: the server runs the meeting, tracked as running", {
    meetingID: m.meetingID,
    tenant: m.tenant || undefined,
    server: m.serverId,
  });
  return true;
}

/**
 * Before a meetingID bbblb does not track is placed: ask the servers that were last seen running it (a copy
 * from a split, or a meeting the poller dropped within the hour). One that runs it is adopted, so the create goes
 * there instead of opening a second room.
 *
 * @returns whether a copy was adopted (the caller reads the meeting again)
 * @throws {BbbError} `serverUnavailable` when such a server does not answer and is not gone
 */
export async function adoptKnownCopy(
  ctx: ClusterContext,
  tenant: string,
  meetingID: string,
  loadMilli: number,
): Promise<boolean> {
  for (const mark of await listSeen(ctx.kv, tenant, meetingID)) {
    const serverId = seenServer(mark);
    const s = await getServerWithHealth(ctx.kv, serverId);
    if (!s) {
      await setSeen(ctx.kv, tenant, meetingID, serverId, null);
      continue;
    }
    const probe = await probeMeeting(ctx, s.server, backendMeetingID(tenant, meetingID));
    if (probe.state === "failed") {
      if (await goneNow(ctx, serverId)) continue;
      throw serverUnavailable(
        `The meeting may still run on BBB server ${serverId}, which does not answer; try again shortly.`,
      );
    }
    if (probe.state === "absent") {
      await setSeen(ctx.kv, tenant, meetingID, serverId, null);
      continue;
    }
    const server = await getServerEntry(ctx.kv, serverId);
    if (!server) continue;
    const adopted = await adoptMeeting(ctx.kv, {
      tenant,
      meetingID,
      serverId,
      details: probe.details,
      loadMilli,
      serverVersionstamp: server.versionstamp,
      now: Date.now(),
    });
    await setSeen(ctx.kv, tenant, meetingID, serverId, null);
    ctx.log.info("create found the meeting running where it was last seen: adopted", {
      meetingID,
      tenant: tenant || undefined,
      server: serverId,
      kind: mark.value.kind,
    });
    return adopted !== null || (await getMeeting(ctx.kv, tenant, meetingID)).value !== null;
  }
  return false;
}

/**
 * The meeting's instance on a server that can be reached: moved off a gone server first (failover). Another
 * request may move it at the same time: then its new instance is used.
 *
 * @throws {BbbError} `serverUnavailable` when no server could take it
 */
async function failover(ctx: ClusterContext, entry: Deno.KvEntry<MeetingRecord>, fallback: Params) {
  try {
    return (await moveMeeting(ctx, entry, { endOld: false, reason: "failover", fallbackParams: fallback }))
      .entry;
  } catch (e) {
    const current = await getMeeting(ctx.kv, entry.value.tenant, entry.value.meetingID);
    if (current.value?.status === "running" && current.value.historyId !== entry.value.historyId) {
      return current as Deno.KvEntry<MeetingRecord>;
    }
    throw e;
  }
}

/** A meeting and the server to send its calls to. */
export interface Holder {
  entry: Deno.KvEntry<MeetingRecord>;
  server: ServerRecord;
}

/**
 * The running meeting of a call and the server to send it to, by the lifecycle's rules: waiting briefly while its
 * create is in flight; settling a claim in doubt; forgetting it when its server answers that it does not run it;
 * `serverUnavailable` while its server is silent but not gone; and, with `failover`, re-creating it elsewhere
 * once the server is gone (join does; end, getMeetingInfo and the in-meeting calls never re-create a meeting).
 *
 * @throws {BbbError} `notFound` (unknown, ended, or gone without failover), `serverUnavailable`
 */
export async function meetingHolder(
  ctx: ClusterContext,
  tenant: string,
  meetingID: string,
  options: { failover: boolean },
): Promise<Holder> {
  for (let i = 0; i < 3; i++) {
    const entry = await settledMeeting(ctx, tenant, meetingID);
    const m = entry.value;
    if (!m) throw meetingNotFound();
    if (m.status !== "running") {
      if (!isUnsettled(m, staleClaimMs(createTimeoutOf(ctx)), Date.now())) throw meetingNotFound();
      const settled = await settleClaim(ctx, entry as Deno.KvEntry<MeetingRecord>);
      if (settled === "pending") throw holderUnavailable(ctx, m.serverId);
      continue;
    }
    const running = entry as Deno.KvEntry<MeetingRecord>;
    const holder = await holderOf(ctx, m);
    switch (holder.state) {
      case "reachable":
      case "running":
        return { entry: running, server: holder.server! };
      case "absent":
        await forgetEnded(ctx, running);
        throw meetingNotFound();
      case "unreachable":
        throw holderUnavailable(ctx, m.serverId);
      case "gone": {
        if (!options.failover) throw meetingNotFound();
        const moved = await failover(ctx, running, []);
        return { entry: moved, server: await serverOf(ctx, moved.value) };
      }
    }
  }
  throw serverUnavailable("The meeting changed while it was looked up; try again.");
}

/** A meeting its server answered it does not run: bbblb forgets it (it ended there, or the server restarted). */
async function forgetEnded(ctx: ClusterContext, entry: Deno.KvEntry<MeetingRecord>): Promise<void> {
  if (await removeMeeting(ctx.kv, entry, "ended")) {
    ctx.log.info("meeting ended: its server no longer runs it", {
      meetingID: entry.value.meetingID,
      tenant: entry.value.tenant || undefined,
      server: entry.value.serverId,
    });
  }
}

async function serverOf(ctx: ClusterContext, meeting: MeetingRecord): Promise<ServerRecord> {
  const s = await getServerWithHealth(ctx.kv, meeting.serverId);
  if (!s) throw serverUnavailable("The meeting's BBB server is no longer registered.");
  return s.server;
}

/** What {@linkcode createMeeting} needs. */
export interface CreateRequest {
  tenant: string;
  /** The tenant's own meetingID. */
  meetingID: string;
  /** Declared load in milli-units. */
  loadMilli: number;
  /** The create parameters as BBB gets them (scoped for a tenant, without `load`). */
  params: Params;
  xmlBody?: XmlBody;
}

/** A create's answer: BBB's XML as it came, and the server it went to (for the log). */
export interface CreateAnswer {
  text: string;
  serverId?: number;
}

/**
 * `create` by the lifecycle's rules. A meetingID that runs goes to its holder (BBB answers a repeated create
 * idempotently) — unless its holder is disabled, cordoned or in panic and no longer runs it: then it is placed
 * anew; a gone holder's meeting is re-created elsewhere first (failover). A claim in doubt is settled by asking
 * its server. A meetingID bbblb does not track is first looked for where it was last seen running, then placed.
 *
 * @throws {BbbError} `serverUnavailable`, `limitExceeded`, `serverTagUnavailable`
 */
export async function createMeeting(ctx: ClusterContext, req: CreateRequest): Promise<CreateAnswer> {
  const tried = new Set<number>();
  const stale = staleClaimMs(createTimeoutOf(ctx));
  for (let round = 0; round < 500; round++) {
    const entry = await settledMeeting(ctx, req.tenant, req.meetingID);
    const m = entry.value;
    if (!m) {
      if (await adoptKnownCopy(ctx, req.tenant, req.meetingID, req.loadMilli)) continue;
      const outcome = await placeNewMeeting(ctx, { ...req, tried });
      if (outcome.kind === "answer") return { text: outcome.text, serverId: outcome.serverId };
      if (outcome.kind === "doubt") {
        // The server may have created it: ask it now, before any other server is tried.
        const settled = await settleClaim(ctx, outcome.claim);
        if (settled === "pending") {
          throw serverUnavailable(
            `BBB server ${outcome.claim.value.serverId} did not confirm the create in time and does not answer ` +
              "now; bbblb will not open the meeting elsewhere while it may run there. Try again shortly.",
          );
        }
        if (settled === "released") tried.add(outcome.claim.value.serverId);
      }
      continue;
    }
    if (m.status === "creating" && !isUnsettled(m, stale, Date.now())) {
      throw serverUnavailable("This meeting is still being created; try again in a few seconds.");
    }
    if (m.status !== "running") {
      if (await settleClaim(ctx, entry as Deno.KvEntry<MeetingRecord>) === "pending") {
        throw serverUnavailable(
          `Creating this meeting on BBB server ${m.serverId} was not confirmed and that server does not answer; ` +
            "try again shortly.",
        );
      }
      continue;
    }
    let running = entry as Deno.KvEntry<MeetingRecord>;
    const holder = await holderOf(ctx, m);
    if (holder.state === "absent") {
      await forgetEnded(ctx, running);
      continue;
    }
    if (holder.state === "unreachable") throw holderUnavailable(ctx, m.serverId);
    if (holder.state === "gone") {
      running = await failover(ctx, running, req.params);
    } else if (holder.server!.state !== "enabled" && holder.state === "reachable") {
      // A holder that takes no new meetings gets the repeat create only while the meeting still runs there:
      // forwarded after it ended, BBB would open it again on a server the admin is emptying.
      const probe = await probeMeeting(ctx, holder.server!, backendMeetingID(m.tenant, m.meetingID));
      if (probe.state === "failed") throw holderUnavailable(ctx, m.serverId);
      if (probe.state === "absent") {
        await forgetEnded(ctx, running);
        continue;
      }
    }
    return await createAgain(ctx, running, req);
  }
  throw serverUnavailable("The meeting could not be placed: the store stayed contended; try again.");
}

/** A create for a meetingID that runs: forwarded to its server, which answers idempotently. */
async function createAgain(
  ctx: ClusterContext,
  entry: Deno.KvEntry<MeetingRecord>,
  req: CreateRequest,
): Promise<CreateAnswer> {
  const server = await serverOf(ctx, entry.value);
  const links = { publicUrl: ctx.publicUrl, linkKey: ctx.linkKey, historyId: entry.value.historyId };
  const call = createCall(withServerTags(req.params, server.tags), links, req.xmlBody);
  // A failure is a BackendError, which the API answers as serverUnavailable.
  const answer = await callServer(ctx, server, "create", call.query, {
    ...call,
    timeoutMs: createTimeoutOf(ctx),
  });
  if (answer.response.returncode === "SUCCESS") {
    await keepTrack(ctx, entry, server, req.params, answer.response);
  }
  return { text: answer.text, serverId: server.id };
}

/**
 * After a repeated create succeeded, make sure bbblb still tracks what now runs on the server:
 * - BBB opened a new session (the old one had ended unnoticed): remember the new instance's details;
 * - the meeting was ended meanwhile by a concurrent `end` (BBB ended it, then our create re-created it): claim it
 *   again on this server, so no meeting runs on BBB that bbblb has forgotten;
 * - another request placed it on another server meanwhile: end this copy, so it never runs twice.
 */
async function keepTrack(
  ctx: ClusterContext,
  entry: Deno.KvEntry<MeetingRecord>,
  server: ServerRecord,
  params: Params,
  response: BbbResponse,
): Promise<void> {
  const details = createDetails(response);
  const m = entry.value;
  for (let i = 0; i < 5; i++) {
    const current = await getMeeting(ctx.kv, m.tenant, m.meetingID);
    if (current.value?.historyId === m.historyId) {
      if (details.createTime && details.createTime !== current.value.createTime) {
        if (!(await markRunning(ctx.kv, current as Deno.KvEntry<MeetingRecord>, details, params))) continue;
      }
      return;
    }
    if (current.value) {
      if (current.value.serverId !== server.id) {
        ctx.log.warn("meeting placed elsewhere meanwhile: ending this copy", {
          meetingID: m.meetingID,
          server: server.id,
        });
        await endOn(ctx, server, backendMeetingID(m.tenant, m.meetingID), details.moderatorPW);
      }
      return;
    }
    const view = (await listServers(ctx.kv)).find((s) => s.id === server.id);
    if (!view) return;
    const claim = await claimMeeting(ctx.kv, {
      tenant: m.tenant,
      meetingID: m.meetingID,
      serverId: server.id,
      loadMilli: m.loadMilli,
      loadEntry: { value: view.loadMilli, versionstamp: view.loadVersionstamp },
      now: Date.now(),
    });
    if (claim && (await markRunning(ctx.kv, claim, details, params))) {
      ctx.log.info("meeting re-created during its end: tracked again", {
        meetingID: m.meetingID,
        server: server.id,
      });
      return;
    }
  }
}

/** What the poller decides for a copy of a meeting on a server its record does not name (a split). */
export type SplitAction =
  | { kind: "keep" }
  | { kind: "switch" }
  | { kind: "end" };

/**
 * The one sticky rule that heals a split (a meetingID running on two servers):
 * - the copy bbblb records stays canonical while it has participants;
 * - the other copy is ended once it has had no participants for two rounds, never while it has some;
 * - when only the other copy has participants (the recorded one is empty or no longer listed), bbblb switches
 *   its record to that copy — once: a meeting switched this way is never switched back — and the recorded copy,
 *   now the other one, is ended after two empty rounds like any other.
 * Nothing is ended while `mayEnd` is false (an instance that has not yet polled every server twice).
 *
 * @param canonical participants of the recorded copy this round, or `null` when its server did not list it
 */
export function splitAction(
  record: Pick<MeetingRecord, "splitSwitched">,
  copy: Pick<SeenRecord, "participants" | "emptyRounds">,
  canonical: number | null,
  mayEnd: boolean,
): SplitAction {
  if (copy.participants > 0) {
    return (canonical === null || canonical === 0) && !record.splitSwitched
      ? { kind: "switch" }
      : { kind: "keep" };
  }
  return copy.emptyRounds >= 2 && mayEnd ? { kind: "end" } : { kind: "keep" };
}
