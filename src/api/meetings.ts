/**
 * The meeting calls of the BBB API: create places a meeting on a server; join, end, getMeetingInfo and
 * isMeetingRunning go to the server that holds it. A meeting whose server is offline is re-created on another
 * server by the next create or join (failover).
 *
 * @module
 */
import { withServerTags } from "../balancer/tags.ts";
import { BackendError, backendUrl } from "../bbb/client.ts";
import { BbbError, meetingNotFound, missingMeetingID } from "../bbb/errors.ts";
import { encodeQuery, get, type Params } from "../bbb/query.ts";
import { callServer, serverUnavailable } from "../cluster/context.ts";
import { createCall, createDetails, placeNewMeeting, staleClaimMs } from "../cluster/create.ts";
import { endOn, moveMeeting } from "../cluster/move.ts";
import { backendMeetingID, scopeCreateParams } from "../cluster/tenancy.ts";
import type { BbbResponse } from "../bbb/xml.ts";
import {
  claimMeeting,
  getMeeting,
  markRunning,
  type MeetingRecord,
  removeMeeting,
  waitWhileCreating,
} from "../store/meetings.ts";
import { getServerWithHealth, listServers, type ServerRecord } from "../store/servers.ts";
import type { ApiContext } from "./context.ts";
import type { ApiRequest } from "./request.ts";
import { success, xml } from "./responses.ts";
import { joinCookie } from "./rejoin.ts";

/** Largest declared `load` of one meeting. */
const MAX_LOAD = 1_000_000;

/**
 * The meetingID of a call.
 *
 * @throws {BbbError} `missingParamMeetingID` when absent or empty; `validationError` when longer than BBB's
 *   256 characters (bbb-web `MeetingIDConstraint`)
 */
export function meetingIdOf(params: Params): string {
  const id = get(params, "meetingID");
  if (id === undefined || id.trim() === "") throw missingMeetingID();
  if (id.length > 256) {
    throw new BbbError("validationError", "Meeting ID must be between 2 and 256 characters");
  }
  return id;
}

/**
 * The declared load of a new meeting in milli-units: create's optional `load` parameter (the seed's extension),
 * a positive number, default 1.
 *
 * @throws {BbbError} `validationError` naming the parameter for anything else
 */
export function loadMilliOf(params: Params): number {
  const raw = get(params, "load");
  if (raw === undefined) return 1000;
  const n = /^\s*\d*\.?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  const milli = Math.round(n * 1000);
  if (!Number.isFinite(n) || n < 0.001 || n > MAX_LOAD) {
    throw new BbbError(
      "validationError",
      `Parameter load must be a positive number (at least 0.001, at most ${MAX_LOAD}); got "${
        raw.slice(0, 40)
      }".`,
    );
  }
  return milli;
}

/** The current record of a tenant's meetingID, waiting while its create is in flight (bounded by `settleMs`). */
async function settled(
  ctx: ApiContext,
  tenant: string,
  meetingID: string,
): Promise<Deno.KvEntryMaybe<MeetingRecord>> {
  const entry = await getMeeting(ctx.kv, tenant, meetingID);
  if (entry.value?.status !== "creating") return entry;
  // A claim abandoned by a dead process will not settle: no waiting for it.
  if (Date.now() - entry.value.claimedAt > staleClaimMs(ctx.backendTimeoutMs)) return entry;
  return await waitWhileCreating(ctx.kv, tenant, meetingID, ctx.settleMs);
}

/** Whether a running meeting's server is offline (or gone): then the meeting needs a failover. */
async function serverOfflineFor(ctx: ApiContext, m: MeetingRecord): Promise<boolean> {
  const s = await getServerWithHealth(ctx.kv, m.serverId);
  return !s || !s.health.online;
}

/**
 * The meeting's current instance on an online server: moved off its offline server first if needed (failover).
 *
 * @throws {BbbError} `serverUnavailable` when no server could take it
 */
async function failover(ctx: ApiContext, entry: Deno.KvEntry<MeetingRecord>, fallback: Params) {
  if (!(await serverOfflineFor(ctx, entry.value))) return entry;
  try {
    return (await moveMeeting(ctx, entry, { endOld: false, reason: "failover", fallbackParams: fallback }))
      .entry;
  } catch (e) {
    // Another request may have moved it meanwhile: then use its new instance.
    const current = await settled(ctx, entry.value.tenant, entry.value.meetingID);
    if (current.value?.status === "running" && current.value.historyId !== entry.value.historyId) {
      return current as Deno.KvEntry<MeetingRecord>;
    }
    throw e;
  }
}

/**
 * `create`: a repeated create goes to the server that holds the meeting (BBB answers it idempotently); a
 * meeting whose server is offline is re-created elsewhere first; a new meeting is claimed on the best server in
 * one atomic operation (meetingID, index, load and voiceBridge together), then created there. A FAILED BBB
 * answer releases the claim; an unreachable server releases it too and the next server is tried.
 *
 * @throws {BbbError} `missingParamMeetingID`, `validationError`, `serverUnavailable`
 */
export async function create(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const meetingID = meetingIdOf(req.params);
  const loadMilli = loadMilliOf(req.params);
  // As BBB gets them: a tenant's meetingID scoped, its tenant in the metadata.
  const params = scopeCreateParams(req.tenant, req.params.filter(([name]) => name !== "load"));
  const tried = new Set<number>();

  for (let round = 0; round < 500; round++) {
    const entry = await settled(ctx, req.tenant, meetingID);
    if (entry.value?.status === "creating") {
      if (Date.now() - entry.value.claimedAt < staleClaimMs(ctx.backendTimeoutMs)) {
        throw serverUnavailable("This meeting is still being created; try again in a few seconds.");
      }
      await takeOverClaim(ctx, entry as Deno.KvEntry<MeetingRecord>, params);
      continue;
    }
    if (entry.value) {
      const running = await failover(ctx, entry as Deno.KvEntry<MeetingRecord>, params);
      req.server = running.value.serverId;
      return await createAgain(ctx, running, params, req.body);
    }
    const outcome = await placeNewMeeting(ctx, {
      tenant: req.tenant,
      meetingID,
      loadMilli,
      params,
      xmlBody: req.body,
      tried,
    });
    if (outcome.kind === "answer") {
      req.server = outcome.entry?.value.serverId;
      return xml(outcome.text);
    }
  }
  throw serverUnavailable("The meeting could not be placed: the store stayed contended; try again.");
}

/**
 * A claim whose create died with its process: ask its server first. If the server runs the meeting (the create
 * reached BBB before the process died), the claim becomes that running meeting, so the caller's create goes there
 * instead of placing the meetingID on a second server. Otherwise, or when the server cannot be asked, the claim
 * and its load are released and the meeting is placed anew.
 */
async function takeOverClaim(
  ctx: ApiContext,
  claim: Deno.KvEntry<MeetingRecord>,
  params: Params,
): Promise<void> {
  const m = claim.value;
  const backendID = backendMeetingID(m.tenant, m.meetingID);
  const s = await getServerWithHealth(ctx.kv, m.serverId);
  if (s?.health.online) {
    try {
      const info = await callServer(ctx, s.server, "getMeetingInfo", encodeQuery([["meetingID", backendID]]));
      if (info.response.returncode === "SUCCESS" && info.response.meetingID === backendID) {
        if (await markRunning(ctx.kv, claim, createDetails(info.response), params)) {
          ctx.log.warn("abandoned claim: the server runs the meeting, tracked as running", {
            meetingID: m.meetingID,
            server: m.serverId,
          });
        }
        return;
      }
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
    }
  }
  ctx.log.warn("taking over an abandoned claim", { meetingID: m.meetingID, server: m.serverId });
  await removeMeeting(ctx.kv, claim, "createFailed");
}

/** A create for a meetingID that runs: forwarded to its server, which answers idempotently. */
async function createAgain(
  ctx: ApiContext,
  entry: Deno.KvEntry<MeetingRecord>,
  params: Params,
  body: ApiRequest["body"],
): Promise<Response> {
  const server = await serverOf(ctx, entry.value);
  const links = { publicUrl: ctx.publicUrl, linkKey: ctx.linkKey, historyId: entry.value.historyId };
  const call = createCall(withServerTags(params, server.tags), links, body);
  let answer;
  try {
    answer = await callServer(ctx, server, "create", call.query, call);
  } catch (e) {
    if (e instanceof BackendError) throw serverUnavailable();
    throw e;
  }
  if (answer.response.returncode === "SUCCESS") await keepTrack(ctx, entry, server, params, answer.response);
  return xml(answer.text);
}

/**
 * After a repeated create succeeded, make sure bbblb still tracks what now runs on the server:
 * - BBB opened a new session (the old one had ended unnoticed): remember the new instance's details;
 * - the meeting was ended meanwhile by a concurrent `end` (BBB ended it, then our create re-created it): claim it
 *   again on this server, so no meeting runs on BBB that bbblb has forgotten;
 * - another request placed it on another server meanwhile: end this copy, so it never runs twice.
 */
async function keepTrack(
  ctx: ApiContext,
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

/** The running meeting of a tenant's call (waiting briefly if its create is in flight), or `null`. */
export async function runningMeeting(
  ctx: ApiContext,
  tenant: string,
  meetingID: string,
): Promise<Deno.KvEntry<MeetingRecord> | null> {
  const entry = await settled(ctx, tenant, meetingID);
  return entry.value?.status === "running" ? entry as Deno.KvEntry<MeetingRecord> : null;
}

/** A running meeting whose server is online, or `null` (unknown, or its server is offline: no waiting on it). */
async function reachableMeeting(ctx: ApiContext, tenant: string, meetingID: string) {
  const entry = await runningMeeting(ctx, tenant, meetingID);
  if (!entry) return null;
  const s = await getServerWithHealth(ctx.kv, entry.value.serverId);
  return s && s.health.online ? { entry, server: s.server } : null;
}

async function serverOf(ctx: ApiContext, meeting: MeetingRecord): Promise<ServerRecord> {
  const s = await getServerWithHealth(ctx.kv, meeting.serverId);
  if (!s) throw serverUnavailable("The meeting's BBB server is no longer registered.");
  return s.server;
}

/** Replace the value of `name` in a raw query string, keeping every other byte (encoding included). */
export function replaceParam(query: string, name: string, value: string): string {
  return query.split("&").map((pair) => {
    const eq = pair.indexOf("=");
    const raw = eq < 0 ? pair : pair.slice(0, eq);
    let decoded = raw;
    try {
      decoded = decodeURIComponent(raw.replaceAll("+", " "));
    } catch { /* not this one */ }
    return decoded === name ? `${raw}=${encodeURIComponent(value)}` : pair;
  }).join("&");
}

/**
 * `join` (GET only, as BBB 3.0): a 302 to the meeting's server with the client's parameters unchanged
 * (encoding kept) and re-signed, with a sealed cookie from which `rejoin` can rebuild this join after a move;
 * with `redirect=false`, the server's XML answer. A meeting whose server is offline is first re-created
 * elsewhere. A `createTime` of an instance the meeting moved away from is replaced with the current instance's,
 * so join links made before a move keep working; any other stale `createTime` is forwarded as it is, so BBB
 * refuses it.
 *
 * @throws {BbbError} `missingParamMeetingID`, `notFound`, `serverUnavailable`, `unsupportedRequest` for POST
 */
export async function join(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  if (req.method !== "GET") {
    throw new BbbError("unsupportedRequest", "join accepts only GET, as BBB 3.0 does.");
  }
  const meetingID = meetingIdOf(req.params);
  const { entry, server } = await joinTarget(ctx, req.tenant, meetingID);
  req.server = server.id;
  let query = req.query;
  const createTime = get(req.params, "createTime");
  if (
    createTime && entry.value.createTime && createTime !== entry.value.createTime &&
    entry.value.movedFrom.some((p) => p.createTime === createTime)
  ) {
    query = replaceParam(query, "createTime", entry.value.createTime);
  }
  if (get(req.params, "redirect")?.toLowerCase() === "false") {
    return xml((await passThrough(ctx, server, "join", query)).text);
  }
  const headers = new Headers({ location: backendUrl(server, "join", query) });
  const cookie = joinCookie(ctx, entry.value, req.params);
  if (cookie) headers.append("set-cookie", cookie);
  return new Response(null, { status: 302, headers });
}

/**
 * The meeting and its server for a join. From the directory (no store access) when it knows the meeting as
 * running on a server that is online; otherwise from the store, waiting while its create is in flight and moving
 * it off an offline server first (failover).
 *
 * @throws {BbbError} `notFound`, `serverUnavailable`
 */
async function joinTarget(
  ctx: ApiContext,
  tenant: string,
  meetingID: string,
): Promise<{ entry: Deno.KvEntry<MeetingRecord>; server: ServerRecord }> {
  const directory = ctx.directory;
  if (directory) {
    const cached = await directory.meeting(tenant, meetingID);
    if (cached.value?.status === "running") {
      const s = await directory.server(cached.value.serverId);
      if (s?.health.online) return { entry: cached as Deno.KvEntry<MeetingRecord>, server: s.server };
    }
  }
  try {
    const found = await runningMeeting(ctx, tenant, meetingID);
    if (!found) throw meetingNotFound();
    const entry = await failover(ctx, found, []);
    return { entry, server: await serverOf(ctx, entry.value) };
  } finally {
    directory?.forgetMeeting(tenant, meetingID);
  }
}

async function passThrough(ctx: ApiContext, server: ServerRecord, call: string, query: string) {
  try {
    return await callServer(ctx, server, call, query);
  } catch (e) {
    if (e instanceof BackendError) throw serverUnavailable();
    throw e;
  }
}

/**
 * `end`: forwarded to the meeting's server; when BBB confirms (or no longer knows the meeting) bbblb frees the
 * meeting and its load at once.
 */
export async function end(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const meetingID = meetingIdOf(req.params);
  const entry = await runningMeeting(ctx, req.tenant, meetingID);
  if (!entry) throw meetingNotFound();
  req.server = entry.value.serverId;
  const answer = await passThrough(ctx, await serverOf(ctx, entry.value), "end", req.query);
  const { returncode, messageKey } = answer.response;
  if (returncode === "SUCCESS" || messageKey === "notFound") {
    if (await removeMeeting(ctx.kv, entry, "end")) {
      ctx.log.info("meeting ended", {
        meetingID,
        tenant: req.tenant || undefined,
        server: entry.value.serverId,
      });
    }
  }
  return xml(answer.text);
}

/**
 * `getMeetingInfo`: the server's answer. An unknown meeting, or one whose server is offline (until a create or
 * join moves it), is BBB's `notFound`, without waiting on the dead server.
 */
export async function getMeetingInfo(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const found = await reachableMeeting(ctx, req.tenant, meetingIdOf(req.params));
  if (!found) throw new BbbError("notFound", "A meeting with that ID does not exist");
  req.server = found.server.id;
  return xml((await passThrough(ctx, found.server, "getMeetingInfo", req.query)).text);
}

/**
 * `isMeetingRunning`: the server's answer. An unknown meeting, or one whose server is offline, is not an error:
 * `running` false, as in BBB.
 */
export async function isMeetingRunning(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const found = await reachableMeeting(ctx, req.tenant, meetingIdOf(req.params));
  if (!found) return success({ running: "false" });
  req.server = found.server.id;
  return xml((await passThrough(ctx, found.server, "isMeetingRunning", req.query)).text);
}

/**
 * `insertDocument` (POST with an XML body) and `sendChatMessage` (BBB 3.0): routed to the meeting's server with
 * the client's query and body intact. Unknown meeting, or its server offline: `notFound`.
 */
export function inMeetingCall(call: "insertDocument" | "sendChatMessage") {
  return async (ctx: ApiContext, req: ApiRequest): Promise<Response> => {
    const found = await reachableMeeting(ctx, req.tenant, meetingIdOf(req.params));
    if (!found) throw new BbbError("notFound", "A meeting with that ID does not exist");
    req.server = found.server.id;
    try {
      const answer = await callServer(ctx, found.server, call, req.query, {
        body: req.body?.bytes,
        contentType: req.body?.contentType,
      });
      return xml(answer.text);
    } catch (e) {
      if (e instanceof BackendError) throw serverUnavailable();
      throw e;
    }
  };
}
