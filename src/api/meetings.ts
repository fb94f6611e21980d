/**
 * The meeting calls of the BBB API: create places a meeting on a server; join, end, getMeetingInfo and
 * isMeetingRunning go to the server that holds it. Where a meeting runs is decided by the meeting lifecycle
 * (`cluster/lifecycle.ts`); this module only reads the calls and shapes the answers.
 *
 * @module
 */
import { backendUrl } from "../bbb/client.ts";
import { BbbError, missingMeetingID } from "../bbb/errors.ts";
import { get, type Params, replaceParam } from "../bbb/query.ts";
import { callServer } from "../cluster/context.ts";
import { createMeeting, type Holder, meetingHolder, settledMeeting } from "../cluster/lifecycle.ts";
import { scopeCreateParams } from "../cluster/tenancy.ts";
import { getMeeting, type MeetingRecord, removeMeeting } from "../store/meetings.ts";
import type { ServerRecord } from "../store/servers.ts";
import type { ApiContext } from "./context.ts";
import type { ApiRequest } from "./request.ts";
import { success, xml } from "./responses.ts";
import { joinCookie, logoutTarget } from "./rejoin.ts";

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
 * The metadata other load balancers and their clients declare a meeting's expected size with; bbblb reads it as
 * the declared load when `load` is absent (and BBB keeps it as metadata, like any `meta_`).
 */
export const SIZE_HINT_PARAM = "meta_bbb-meeting-size-hint";

/** A positive number as `load` takes it (at most {@linkcode MAX_LOAD}), or `NaN`. */
function loadNumber(raw: string): number {
  const n = /^\s*\d*\.?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  return n >= 0.001 && n <= MAX_LOAD ? n : NaN;
}

/**
 * The declared load of a new meeting in milli-units: create's optional `load` parameter (the seed's extension),
 * a positive number; without it `meta_bbb-meeting-size-hint` when that is such a number (a hint that is not is
 * ignored, as the clients that send it expect no error); else 1.
 *
 * @throws {BbbError} `validationError` naming the parameter for a `load` that is not a positive number
 */
export function loadMilliOf(params: Params): number {
  const raw = get(params, "load");
  if (raw === undefined) {
    const hint = params.find(([n]) => n.toLowerCase() === SIZE_HINT_PARAM)?.[1];
    const n = hint === undefined ? NaN : loadNumber(hint);
    return Number.isFinite(n) ? Math.round(n * 1000) : 1000;
  }
  const n = loadNumber(raw);
  if (!Number.isFinite(n)) {
    throw new BbbError(
      "validationError",
      `Parameter load must be a positive number (at least 0.001, at most ${MAX_LOAD}); got "${
        raw.slice(0, 40)
      }".`,
    );
  }
  return Math.round(n * 1000);
}

/**
 * `create`: placed, repeated or failed over by the meeting lifecycle (`cluster/lifecycle.ts`): a repeated create
 * goes to the server that holds the meeting (BBB answers it idempotently); a new meeting is claimed on the best
 * server in one atomic operation (meetingID, index, load and voiceBridge together), then created there.
 *
 * @throws {BbbError} `missingParamMeetingID`, `validationError`, `serverUnavailable`, `limitExceeded`
 */
export async function create(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const meetingID = meetingIdOf(req.params);
  const loadMilli = loadMilliOf(req.params);
  // As BBB gets them: a tenant's meetingID scoped, its tenant in the metadata.
  const params = scopeCreateParams(req.tenant, req.params.filter(([name]) => name !== "load"));
  const answer = await createMeeting(ctx, {
    tenant: req.tenant,
    meetingID,
    loadMilli,
    params,
    xmlBody: req.body,
  });
  req.server = answer.serverId;
  return xml(answer.text);
}

/** The running meeting of a tenant's call (waiting briefly if its create is in flight), or `null`. */
export async function runningMeeting(
  ctx: ApiContext,
  tenant: string,
  meetingID: string,
): Promise<Deno.KvEntry<MeetingRecord> | null> {
  const entry = await settledMeeting(ctx, tenant, meetingID);
  return entry.value?.status === "running" ? entry as Deno.KvEntry<MeetingRecord> : null;
}

/**
 * `join` (GET only, as BBB 3.0): a 302 to the meeting's server with the client's parameters unchanged
 * (encoding kept) and re-signed, with a sealed cookie from which `rejoin` can rebuild this join after a move;
 * with `redirect=false`, the server's XML answer. A meeting whose server is gone is first re-created elsewhere
 * (see `cluster/lifecycle.ts`). A `createTime` of an instance the meeting moved away from is replaced with the
 * current instance's, so join links made before a move keep working; any other stale `createTime` is forwarded
 * as it is, so BBB refuses it. A join bbblb refuses itself goes to the client's `errorRedirectUrl` when it gave
 * one (BBB 2.7+), as BBB does.
 *
 * @throws {BbbError} `missingParamMeetingID`, `notFound`, `serverUnavailable`, `unsupportedRequest` for POST
 */
export async function join(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  if (req.method !== "GET") {
    throw new BbbError("unsupportedRequest", "join accepts only GET, as BBB 3.0 does.");
  }
  try {
    return await joinRedirect(ctx, req);
  } catch (e) {
    if (!(e instanceof BbbError)) throw e;
    const redirect = await errorRedirect(req.params, e, async () => {
      const known = (await getMeeting(ctx.kv, req.tenant, get(req.params, "meetingID") ?? "")).value;
      return await logoutTarget(ctx, known?.historyId ?? null);
    });
    if (redirect) return redirect;
    throw e;
  }
}

async function joinRedirect(ctx: ApiContext, req: ApiRequest): Promise<Response> {
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
 * BBB 2.7+'s answer to a refused join that asked to be redirected: a 302 to the client's `errorRedirectUrl` with
 * `errors=[{"key":…,"message":…}]` appended (bbb-web's shape). The value `logout` means the meeting's logoutURL
 * (BBB's rule; bbblb's: the creator's logoutURL, else `BBBLB_LOGOUT_URL`, from `logout()`). Only for http(s)
 * URLs, and only with `redirect` not false; the request's checksum was verified, so the URL is the front-end's
 * own. `null` otherwise (the FAILED XML is answered).
 */
export async function errorRedirect(
  params: Params,
  error: BbbError,
  logout: () => Promise<string | null>,
): Promise<Response | null> {
  const given = get(params, "errorRedirectUrl");
  if (!given || get(params, "redirect")?.toLowerCase() === "false") return null;
  const target = given === "logout" ? await logout() : given;
  if (target === null) return null;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  url.searchParams.append("errors", JSON.stringify([{ key: error.messageKey, message: error.message }]));
  return new Response(null, { status: 302, headers: { location: url.href } });
}

/**
 * The meeting and its server for a join. From the directory (no store access) when it knows the meeting as
 * running on a server that is online; otherwise by the lifecycle's rules (failover once the server is gone).
 *
 * @throws {BbbError} `notFound`, `serverUnavailable`
 */
async function joinTarget(
  ctx: ApiContext,
  tenant: string,
  meetingID: string,
): Promise<Holder> {
  const directory = ctx.directory;
  if (directory) {
    const cached = await directory.meeting(tenant, meetingID);
    if (cached.value?.status === "running") {
      const s = await directory.server(cached.value.serverId);
      if (s?.health.online) return { entry: cached as Deno.KvEntry<MeetingRecord>, server: s.server };
    }
  }
  try {
    return await meetingHolder(ctx, tenant, meetingID, { failover: true });
  } finally {
    directory?.forgetMeeting(tenant, meetingID);
  }
}

/** A call passed to the meeting's server; a failure of the server is `serverUnavailable` (see `app.ts`). */
function passThrough(ctx: ApiContext, server: ServerRecord, call: string, query: string) {
  return callServer(ctx, server, call, query);
}

/**
 * `end`: forwarded to the meeting's server; when BBB confirms (or no longer knows the meeting) bbblb frees the
 * meeting and its load at once. While its server is silent: `serverUnavailable`.
 */
export async function end(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const meetingID = meetingIdOf(req.params);
  const { entry, server } = await meetingHolder(ctx, req.tenant, meetingID, { failover: false });
  req.server = server.id;
  const answer = await passThrough(ctx, server, "end", req.query);
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
 * `getMeetingInfo`: the server's answer. An unknown meeting is BBB's `notFound`; one whose server is silent
 * answers `serverUnavailable` within the probe timeout, never waiting on the dead server.
 */
export async function getMeetingInfo(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const { server } = await meetingHolder(ctx, req.tenant, meetingIdOf(req.params), { failover: false });
  req.server = server.id;
  return xml((await passThrough(ctx, server, "getMeetingInfo", req.query)).text);
}

/**
 * `isMeetingRunning`: the server's answer. An unknown meeting, or one whose server cannot be reached, is not an
 * error: `running` false, as BBB answers for a meeting it does not run. Front-ends treat that as "not started
 * yet" and create it again, which bbblb answers by the lifecycle's rules (see `create`).
 */
export async function isMeetingRunning(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  let holder: Holder;
  try {
    holder = await meetingHolder(ctx, req.tenant, meetingIdOf(req.params), { failover: false });
  } catch (e) {
    if (
      e instanceof BbbError && e.messageKey !== "missingParamMeetingID" && e.messageKey !== "validationError"
    ) {
      return success({ running: "false" });
    }
    throw e;
  }
  req.server = holder.server.id;
  return xml((await passThrough(ctx, holder.server, "isMeetingRunning", req.query)).text);
}

/**
 * `insertDocument` (POST with an XML body) and `sendChatMessage` (BBB 3.0): routed to the meeting's server with
 * the client's query and body intact. Unknown meeting: `notFound`; its server silent: `serverUnavailable`.
 */
export function inMeetingCall(call: "insertDocument" | "sendChatMessage") {
  return async (ctx: ApiContext, req: ApiRequest): Promise<Response> => {
    const { server } = await meetingHolder(ctx, req.tenant, meetingIdOf(req.params), { failover: false });
    req.server = server.id;
    const answer = await callServer(ctx, server, call, req.query, {
      body: req.body?.bytes,
      contentType: req.body?.contentType,
    });
    return xml(answer.text);
  };
}
