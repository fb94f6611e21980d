/**
 * The meeting calls of the BBB API: create places a meeting on a server; join, end, getMeetingInfo and
 * isMeetingRunning go to the server that holds it.
 *
 * @module
 */
import { BackendError, backendUrl } from "../bbb/client.ts";
import { BbbError, meetingNotFound, missingMeetingID } from "../bbb/errors.ts";
import { encodeQuery, get, type Params } from "../bbb/query.ts";
import type { BbbResponse } from "../bbb/xml.ts";
import { rankServers } from "../balancer/placement.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import {
  claimMeeting,
  getMeeting,
  markRunning,
  type MeetingRecord,
  removeMeeting,
  waitWhileCreating,
} from "../store/meetings.ts";
import { getServer, listServers, type ServerRecord } from "../store/servers.ts";
import { type ApiContext, callServer, serverUnavailable } from "./context.ts";
import type { ApiRequest } from "./request.ts";
import { success, xml } from "./responses.ts";

/** At most this many servers are tried for one new meeting before create answers `serverUnavailable`. */
export const MAX_SERVERS_PER_CREATE = 3;

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
  if (!Number.isFinite(n) || milli < 1 || n > MAX_LOAD) {
    throw new BbbError(
      "validationError",
      `Parameter load must be a positive number (at least 0.001, at most ${MAX_LOAD}); got "${
        raw.slice(0, 40)
      }".`,
    );
  }
  return milli;
}

/** Create parameters longer than this (bytes, encoded) go to BBB in a form body: nginx and Tomcat in front of
 * BBB refuse request heads over 8 KiB by default. */
const MAX_CREATE_QUERY = 4096;

/**
 * How a create is sent to BBB: in the query; or, when the parameters are too long for a URL, in a form body
 * (BBB merges form parameters; its checksum then covers the empty query); an XML body (slides) as it came.
 */
function createRequest(
  params: Params,
  xmlBody: ApiRequest["xmlBody"],
): { query: string; body: { body?: BodyInit; contentType?: string } } {
  const query = encodeQuery(params);
  if (xmlBody) return { query, body: { body: xmlBody.bytes, contentType: xmlBody.contentType } };
  if (query.length <= MAX_CREATE_QUERY) return { query, body: {} };
  return { query: "", body: { body: query, contentType: "application/x-www-form-urlencoded" } };
}

/** A claim older than this (ms) whose request never finished (a crashed process) may be taken over. */
function staleClaimMs(ctx: ApiContext): number {
  return ctx.backendTimeoutMs * (MAX_SERVERS_PER_CREATE + 1) + 10_000;
}

/**
 * `create`: a repeated create goes to the server that holds the meeting (BBB answers it idempotently); a new
 * meeting is claimed on the best server in one atomic operation (meetingID, index and load together), then
 * created there. A failed BBB answer releases the claim; an unreachable server releases it too and the next
 * server is tried, up to {@linkcode MAX_SERVERS_PER_CREATE}.
 *
 * @throws {BbbError} `missingParamMeetingID`, `validationError`, `serverUnavailable`
 */
export async function create(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const meetingID = meetingIdOf(req.params);
  const loadMilli = loadMilliOf(req.params);
  const forwarded = req.params.filter(([name]) => name !== "load");
  const { query, body } = createRequest(forwarded, req.xmlBody);
  const tenant = DEFAULT_TENANT;
  const tried = new Set<number>();

  for (let round = 0; round < 500; round++) {
    let entry = await getMeeting(ctx.kv, tenant, meetingID);
    if (entry.value?.status === "creating") {
      entry = await waitWhileCreating(ctx.kv, tenant, meetingID, ctx.settleMs);
      if (entry.value?.status === "creating") {
        if (Date.now() - entry.value.claimedAt < staleClaimMs(ctx)) {
          throw serverUnavailable("This meeting is still being created; try again in a few seconds.");
        }
        ctx.log.warn("taking over an abandoned claim", { meetingID, server: entry.value.serverId });
        await removeMeeting(ctx.kv, entry as Deno.KvEntry<MeetingRecord>, "createFailed");
        continue;
      }
    }
    if (entry.value) {
      return await createAgain(ctx, entry as Deno.KvEntry<MeetingRecord>, forwarded, query, body);
    }

    const ranked = rankServers(await listServers(ctx.kv), tried);
    if (ranked.length === 0 || tried.size >= MAX_SERVERS_PER_CREATE) {
      throw serverUnavailable(
        tried.size > 0
          ? "No BBB server could create the meeting; the servers tried did not answer."
          : "No BBB server can take a new meeting right now (none is enabled and online).",
      );
    }
    const target = ranked[0];
    const claim = await claimMeeting(ctx.kv, {
      tenant,
      meetingID,
      serverId: target.id,
      loadMilli,
      loadEntry: { value: target.loadMilli, versionstamp: target.loadVersionstamp },
      now: Date.now(),
    });
    if (!claim) continue; // the meetingID was claimed or the server's load changed meanwhile: decide again

    let answer;
    try {
      answer = await callServer(ctx, target, "create", query, body);
    } catch (e) {
      await removeMeeting(ctx.kv, claim, "createFailed");
      if (!(e instanceof BackendError)) throw e;
      tried.add(target.id);
      continue;
    }
    if (answer.response.returncode !== "SUCCESS") {
      await removeMeeting(ctx.kv, claim, "createFailed");
      ctx.log.info("create refused by server", {
        meetingID,
        server: target.id,
        messageKey: answer.response.messageKey ?? errorKeyOf(answer.response),
      });
      return xml(answer.text);
    }
    const running = await markRunning(ctx.kv, claim, createDetails(answer.response), forwarded);
    if (!running) {
      ctx.log.warn("claim changed while the meeting was created", { meetingID, server: target.id });
    }
    ctx.log.info("meeting placed", { meetingID, server: target.id, load: loadMilli / 1000 });
    return xml(answer.text);
  }
  throw serverUnavailable("The meeting could not be placed: the store stayed contended; try again.");
}

/** A create for a meetingID that runs: forwarded to its server, which answers idempotently. */
async function createAgain(
  ctx: ApiContext,
  entry: Deno.KvEntry<MeetingRecord>,
  forwarded: Params,
  query: string,
  body: { body?: BodyInit; contentType?: string },
): Promise<Response> {
  const server = await serverOf(ctx, entry.value);
  let answer;
  try {
    answer = await callServer(ctx, server, "create", query, body);
  } catch (e) {
    if (e instanceof BackendError) throw serverUnavailable();
    throw e;
  }
  // BBB opened a new session when the old one had ended unnoticed: remember the new instance's details.
  const details = createDetails(answer.response);
  if (
    answer.response.returncode === "SUCCESS" && details.createTime &&
    details.createTime !== entry.value.createTime
  ) {
    await markRunning(ctx.kv, entry, details, forwarded);
  }
  return xml(answer.text);
}

function createDetails(r: BbbResponse) {
  const s = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  return {
    internalMeetingID: s(r.internalMeetingID),
    createTime: s(r.createTime),
    attendeePW: s(r.attendeePW),
    moderatorPW: s(r.moderatorPW),
    voiceBridge: s(r.voiceBridge),
  };
}

function errorKeyOf(r: BbbResponse): string | undefined {
  return r.errors?.error?.[0]?.key;
}

/** The running meeting of a call (waiting briefly if its create is in flight), or `null`. */
async function runningMeeting(
  ctx: ApiContext,
  meetingID: string,
): Promise<Deno.KvEntry<MeetingRecord> | null> {
  let entry = await getMeeting(ctx.kv, DEFAULT_TENANT, meetingID);
  if (entry.value?.status === "creating") {
    entry = await waitWhileCreating(ctx.kv, DEFAULT_TENANT, meetingID, ctx.settleMs);
  }
  return entry.value?.status === "running" ? entry as Deno.KvEntry<MeetingRecord> : null;
}

async function serverOf(ctx: ApiContext, meeting: MeetingRecord): Promise<ServerRecord> {
  const server = await getServer(ctx.kv, meeting.serverId);
  if (!server) throw serverUnavailable("The meeting's BBB server is no longer registered.");
  return server;
}

/**
 * `join` (GET only, as BBB 3.0): a 302 to the meeting's server with the client's parameters unchanged
 * (encoding kept) and re-signed; with `redirect=false`, the server's XML answer.
 *
 * @throws {BbbError} `missingParamMeetingID`, `notFound`, `serverUnavailable`, `unsupportedRequest` for POST
 */
export async function join(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  if (req.method !== "GET") {
    throw new BbbError("unsupportedRequest", "join accepts only GET, as BBB 3.0 does.");
  }
  const meetingID = meetingIdOf(req.params);
  const entry = await runningMeeting(ctx, meetingID);
  if (!entry) throw meetingNotFound();
  const server = await serverOf(ctx, entry.value);
  if (get(req.params, "redirect")?.toLowerCase() === "false") {
    return xml((await passThrough(ctx, server, "join", req.query)).text);
  }
  return new Response(null, { status: 302, headers: { location: backendUrl(server, "join", req.query) } });
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
  const entry = await runningMeeting(ctx, meetingID);
  if (!entry) throw meetingNotFound();
  const answer = await passThrough(ctx, await serverOf(ctx, entry.value), "end", req.query);
  const { returncode, messageKey } = answer.response;
  if (returncode === "SUCCESS" || messageKey === "notFound") {
    if (await removeMeeting(ctx.kv, entry, "end")) {
      ctx.log.info("meeting ended", { meetingID, server: entry.value.serverId });
    }
  }
  return xml(answer.text);
}

/** `getMeetingInfo`: the server's answer; an unknown meeting is BBB's `notFound`. */
export async function getMeetingInfo(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const entry = await runningMeeting(ctx, meetingIdOf(req.params));
  if (!entry) throw new BbbError("notFound", "A meeting with that ID does not exist");
  return xml((await passThrough(ctx, await serverOf(ctx, entry.value), "getMeetingInfo", req.query)).text);
}

/** `isMeetingRunning`: the server's answer; an unknown meeting is not an error (`running` false), as in BBB. */
export async function isMeetingRunning(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const entry = await runningMeeting(ctx, meetingIdOf(req.params));
  if (!entry) return success({ running: "false" });
  return xml((await passThrough(ctx, await serverOf(ctx, entry.value), "isMeetingRunning", req.query)).text);
}
