/**
 * The meeting calls of the BBB API: create places a meeting on a server; join, end, getMeetingInfo and
 * isMeetingRunning go to the server that holds it. A meeting whose server is offline is re-created on another
 * server by the next create or join (failover).
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
  loadCreateParams,
  markRunning,
  type MeetingRecord,
  moveMeeting,
  removeMeeting,
  waitWhileCreating,
} from "../store/meetings.ts";
import { getServerWithHealth, listServers, type ServerRecord } from "../store/servers.ts";
import { type ApiContext, callServer, serverUnavailable } from "./context.ts";
import type { ApiRequest } from "./request.ts";
import { success, xml } from "./responses.ts";

/** At most this many servers are tried for one new meeting before create answers `serverUnavailable`. */
export const MAX_SERVERS_PER_CREATE = 3;

/** Largest declared `load` of one meeting. */
const MAX_LOAD = 1_000_000;

/**
 * Create parameters longer than this (bytes, encoded) go to BBB in a form body: nginx and Tomcat in front of BBB
 * refuse request heads over 8 KiB by default.
 */
const MAX_CREATE_QUERY = 4096;

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

/**
 * A claim older than this (ms) whose request never finished (a crashed process) may be taken over: longer than
 * any create can take (each server tried within the backend timeout), plus a margin.
 */
export function staleClaimMs(backendTimeoutMs: number): number {
  return backendTimeoutMs * (MAX_SERVERS_PER_CREATE + 1) + 10_000;
}

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

/** The current record of a meetingID, waiting while its create is in flight (bounded by `settleMs`). */
async function settled(ctx: ApiContext, meetingID: string): Promise<Deno.KvEntryMaybe<MeetingRecord>> {
  const entry = await getMeeting(ctx.kv, DEFAULT_TENANT, meetingID);
  if (entry.value?.status !== "creating") return entry;
  return await waitWhileCreating(ctx.kv, DEFAULT_TENANT, meetingID, ctx.settleMs);
}

/** What one placement attempt came to. */
type Placement =
  | { kind: "retry" }
  | { kind: "answer"; text: string; response: BbbResponse; entry: Deno.KvEntry<MeetingRecord> | null };

/** What {@linkcode place} needs. */
interface PlaceRequest {
  meetingID: string;
  loadMilli: number;
  /** The create parameters to send. */
  params: Params;
  xmlBody?: ApiRequest["xmlBody"];
  /** A running meeting to move off its (offline) server, or undefined for a new meeting. */
  previous?: Deno.KvEntry<MeetingRecord>;
  /** Servers that failed during this request. */
  tried: Set<number>;
}

/**
 * One placement attempt: pick the best server, claim the meeting there (or move it there) in one atomic
 * operation, and create it. A lost race (`retry`) means the caller reads the state again; an unreachable
 * server releases the claim, is excluded from placement and is added to `tried`.
 *
 * @throws {BbbError} `serverUnavailable` when no server is left to try
 */
async function place(ctx: ApiContext, req: PlaceRequest): Promise<Placement> {
  const exclude = new Set(req.tried);
  if (req.previous) exclude.add(req.previous.value.serverId);
  const ranked = rankServers(
    (await listServers(ctx.kv)).map((s) => ({ ...s, extraMilli: s.stats.extraMilli })),
    exclude,
  );
  if (ranked.length === 0 || req.tried.size >= MAX_SERVERS_PER_CREATE) {
    throw serverUnavailable(
      req.tried.size > 0
        ? "No BBB server could create the meeting; the servers tried did not answer."
        : "No BBB server can take a new meeting right now (none is enabled and online).",
    );
  }
  const target = ranked[0];
  const loadEntry = { value: target.loadMilli, versionstamp: target.loadVersionstamp };
  const now = Date.now();
  const claim = req.previous
    ? await moveMeeting(ctx.kv, req.previous, { serverId: target.id, loadEntry, now })
    : await claimMeeting(ctx.kv, {
      tenant: DEFAULT_TENANT,
      meetingID: req.meetingID,
      serverId: target.id,
      loadMilli: req.loadMilli,
      loadEntry,
      now,
    });
  if (!claim) return { kind: "retry" }; // the meetingID or the server's load changed meanwhile

  const { query, body } = createRequest(req.params, req.xmlBody);
  let answer;
  try {
    answer = await callServer(ctx, target, "create", query, body);
  } catch (e) {
    await removeMeeting(ctx.kv, claim, "createFailed");
    if (!(e instanceof BackendError)) throw e;
    req.tried.add(target.id);
    return { kind: "retry" };
  }
  if (answer.response.returncode !== "SUCCESS") {
    await removeMeeting(ctx.kv, claim, "createFailed");
    ctx.log.info("create refused by server", {
      meetingID: req.meetingID,
      server: target.id,
      messageKey: answer.response.messageKey ?? answer.response.errors?.error?.[0]?.key,
    });
    return { kind: "answer", text: answer.text, response: answer.response, entry: null };
  }
  const running = await markRunning(ctx.kv, claim, createDetails(answer.response), req.params);
  if (!running) ctx.log.warn("claim changed while the meeting was created", { meetingID: req.meetingID });
  ctx.log.info(req.previous ? "meeting moved (failover)" : "meeting placed", {
    meetingID: req.meetingID,
    server: target.id,
    from: req.previous?.value.serverId,
    load: req.loadMilli / 1000,
  });
  return { kind: "answer", text: answer.text, response: answer.response, entry: running };
}

/**
 * The parameters to re-create a meeting elsewhere: its stored create parameters with the passwords and
 * voiceBridge BBB answered at the first create, so join links and dial-in numbers keep working.
 */
async function recreateParams(ctx: ApiContext, m: MeetingRecord, fallback: Params): Promise<Params> {
  const stored = (await loadCreateParams(ctx.kv, m.historyId)) ?? fallback;
  const kept: [string, string | null][] = [
    ["attendeePW", m.attendeePW],
    ["moderatorPW", m.moderatorPW],
    ["voiceBridge", m.voiceBridge],
  ];
  const replaced = new Set(kept.filter(([, v]) => v !== null).map(([n]) => n));
  return [
    ...stored.filter(([n]) => !replaced.has(n)),
    ...kept.filter((p): p is [string, string] => p[1] !== null),
  ];
}

/** Whether a running meeting's server is offline (or gone): then the meeting needs a failover. */
async function serverOfflineFor(ctx: ApiContext, m: MeetingRecord): Promise<boolean> {
  const s = await getServerWithHealth(ctx.kv, m.serverId);
  return !s || !s.health.online;
}

/** The outcome of a failover: the meeting's new running instance, or the new server's FAILED create answer. */
type Failover = { entry: Deno.KvEntry<MeetingRecord> } | { failed: string };

/**
 * Move a meeting off its offline server: re-create it elsewhere from its stored create parameters. When another
 * request moved it meanwhile, its new instance is returned.
 *
 * @throws {BbbError} `serverUnavailable` when no server could take it; `notFound` when it vanished meanwhile
 */
async function failover(
  ctx: ApiContext,
  entry: Deno.KvEntry<MeetingRecord>,
  fallback: Params,
): Promise<Failover> {
  const tried = new Set<number>();
  let current: Deno.KvEntryMaybe<MeetingRecord> = entry;
  for (let round = 0; round < 100; round++) {
    if (!current.value) throw meetingNotFound(); // gone meanwhile (ended, or the re-create failed)
    if (current.value.status === "running") {
      const running = current as Deno.KvEntry<MeetingRecord>;
      if (!(await serverOfflineFor(ctx, running.value))) return { entry: running };
      const outcome = await place(ctx, {
        meetingID: running.value.meetingID,
        loadMilli: running.value.loadMilli,
        params: await recreateParams(ctx, running.value, fallback),
        previous: running,
        tried,
      });
      if (outcome.kind === "answer") {
        return outcome.entry ? { entry: outcome.entry } : { failed: outcome.text };
      }
    }
    current = await settled(ctx, entry.value.meetingID);
  }
  throw serverUnavailable("The meeting could not be moved: the store stayed contended; try again.");
}

/**
 * `create`: a repeated create goes to the server that holds the meeting (BBB answers it idempotently); a
 * meeting whose server is offline is re-created elsewhere; a new meeting is claimed on the best server in one
 * atomic operation (meetingID, index and load together), then created there. A FAILED BBB answer releases the
 * claim; an unreachable server releases it too and the next server is tried, up to
 * {@linkcode MAX_SERVERS_PER_CREATE}.
 *
 * @throws {BbbError} `missingParamMeetingID`, `validationError`, `serverUnavailable`
 */
export async function create(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const meetingID = meetingIdOf(req.params);
  const loadMilli = loadMilliOf(req.params);
  const forwarded = req.params.filter(([name]) => name !== "load");
  const tried = new Set<number>();

  for (let round = 0; round < 500; round++) {
    const entry = await settled(ctx, meetingID);
    if (entry.value?.status === "creating") {
      if (Date.now() - entry.value.claimedAt < staleClaimMs(ctx.backendTimeoutMs)) {
        throw serverUnavailable("This meeting is still being created; try again in a few seconds.");
      }
      ctx.log.warn("taking over an abandoned claim", { meetingID, server: entry.value.serverId });
      await removeMeeting(ctx.kv, entry as Deno.KvEntry<MeetingRecord>, "createFailed");
      continue;
    }
    if (entry.value) {
      const running = entry as Deno.KvEntry<MeetingRecord>;
      if (await serverOfflineFor(ctx, running.value)) {
        const moved = await failover(ctx, running, forwarded);
        if ("failed" in moved) return xml(moved.failed);
        return await createAgain(ctx, moved.entry, forwarded, req.xmlBody);
      }
      return await createAgain(ctx, running, forwarded, req.xmlBody);
    }
    const outcome = await place(ctx, {
      meetingID,
      loadMilli,
      params: forwarded,
      xmlBody: req.xmlBody,
      tried,
    });
    if (outcome.kind === "answer") return xml(outcome.text);
  }
  throw serverUnavailable("The meeting could not be placed: the store stayed contended; try again.");
}

/** A create for a meetingID that runs: forwarded to its server, which answers idempotently. */
async function createAgain(
  ctx: ApiContext,
  entry: Deno.KvEntry<MeetingRecord>,
  forwarded: Params,
  xmlBody: ApiRequest["xmlBody"],
): Promise<Response> {
  const server = await serverOf(ctx, entry.value);
  const { query, body } = createRequest(forwarded, xmlBody);
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

/** The running meeting of a call (waiting briefly if its create is in flight), or `null`. */
async function runningMeeting(
  ctx: ApiContext,
  meetingID: string,
): Promise<Deno.KvEntry<MeetingRecord> | null> {
  const entry = await settled(ctx, meetingID);
  return entry.value?.status === "running" ? entry as Deno.KvEntry<MeetingRecord> : null;
}

/** A running meeting whose server is online, or `null` (unknown, or its server is offline: no waiting on it). */
async function reachableMeeting(ctx: ApiContext, meetingID: string) {
  const entry = await runningMeeting(ctx, meetingID);
  if (!entry) return null;
  const s = await getServerWithHealth(ctx.kv, entry.value.serverId);
  return s && s.health.online ? { entry, server: s.server } : null;
}

async function serverOf(ctx: ApiContext, meeting: MeetingRecord): Promise<ServerRecord> {
  const s = await getServerWithHealth(ctx.kv, meeting.serverId);
  if (!s) throw serverUnavailable("The meeting's BBB server is no longer registered.");
  return s.server;
}

/**
 * Replace the value of `name` in a raw query string, keeping every other byte (encoding included).
 */
function replaceParam(query: string, name: string, value: string): string {
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
 * (encoding kept) and re-signed; with `redirect=false`, the server's XML answer. A meeting whose server is
 * offline is first re-created elsewhere. A `createTime` of an instance the meeting moved away from is replaced
 * with the current instance's, so join links made before a failover keep working; any other stale `createTime`
 * is forwarded as it is, so BBB refuses it.
 *
 * @throws {BbbError} `missingParamMeetingID`, `notFound`, `serverUnavailable`, `unsupportedRequest` for POST
 */
export async function join(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  if (req.method !== "GET") {
    throw new BbbError("unsupportedRequest", "join accepts only GET, as BBB 3.0 does.");
  }
  const meetingID = meetingIdOf(req.params);
  let entry = await runningMeeting(ctx, meetingID);
  if (!entry) throw meetingNotFound();
  if (await serverOfflineFor(ctx, entry.value)) {
    const moved = await failover(ctx, entry, []);
    if ("failed" in moved) {
      throw serverUnavailable("The meeting's server is offline and no other server could take the meeting.");
    }
    entry = moved.entry;
  }
  const server = await serverOf(ctx, entry.value);
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
  return new Response(null, { status: 302, headers: { location: backendUrl(server, "join", query) } });
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

/**
 * `getMeetingInfo`: the server's answer. An unknown meeting, or one whose server is offline (until a create or
 * join moves it), is BBB's `notFound`, without waiting on the dead server.
 */
export async function getMeetingInfo(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const found = await reachableMeeting(ctx, meetingIdOf(req.params));
  if (!found) throw new BbbError("notFound", "A meeting with that ID does not exist");
  return xml((await passThrough(ctx, found.server, "getMeetingInfo", req.query)).text);
}

/**
 * `isMeetingRunning`: the server's answer. An unknown meeting, or one whose server is offline, is not an error:
 * `running` false, as in BBB.
 */
export async function isMeetingRunning(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const found = await reachableMeeting(ctx, meetingIdOf(req.params));
  if (!found) return success({ running: "false" });
  return xml((await passThrough(ctx, found.server, "isMeetingRunning", req.query)).text);
}
