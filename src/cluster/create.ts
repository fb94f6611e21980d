/**
 * Placing a new meeting: choose the server, claim the meetingID there in one atomic operation, create it on the
 * server, and keep what BBB answered. Shared by the API's `create` and the failover paths.
 *
 * @module
 */
import { BackendError } from "../bbb/client.ts";
import { encodeQuery, get, type Params } from "../bbb/query.ts";
import type { BbbResponse } from "../bbb/xml.ts";
import { type Candidate, decidePlacement, type PlacementRequest } from "../balancer/placement.ts";
import { parseTagRequest, tagParamOf, withServerTags } from "../balancer/tags.ts";
import { BbbError } from "../bbb/errors.ts";
import {
  claimMeeting,
  type CreateDetails,
  getMeeting,
  markDoubt,
  markRunning,
  type MeetingRecord,
  newHistoryId,
  paramsFitClaim,
  removeMeeting,
} from "../store/meetings.ts";
import { storeProblem } from "../store/kv.ts";
import { isFull, serverVersion, type ServerView } from "../store/servers.ts";
import { callServer, type ClusterContext, createTimeoutOf, voiceBridgeDigitsOf } from "./context.ts";
import { relayCallbacks } from "./callbacks.ts";
import { readSnapshot, type ServerSnapshot } from "./placement_turns.ts";
import { rejoinUrl } from "./links.ts";
import {
  allocateVoiceBridge,
  checkGivenVoiceBridge,
  normalizeVoiceBridge,
  relatedPins,
  voiceBridgeTaken,
} from "./voice_bridge.ts";

/**
 * Create parameters longer than this (bytes, encoded) go to BBB in a form body: nginx and Tomcat in front of BBB
 * refuse request heads over 8 KiB by default.
 */
const MAX_CREATE_QUERY = 4096;

/** An XML body (pre-uploaded slides) forwarded as it came. */
export interface XmlBody {
  bytes: Uint8Array<ArrayBuffer>;
  contentType: string;
}

/** A create as sent to one BBB server. */
export interface CreateCall {
  query: string;
  body?: BodyInit;
  contentType?: string;
}

/** The links of one meeting instance that a create puts in place of the client's URLs. */
export interface InstanceLinks {
  publicUrl: string;
  linkKey: Uint8Array;
  /** The instance's history id. */
  historyId: string;
}

/**
 * How a create is sent to BBB. The logoutURL is replaced with the instance's signed rejoin link and callback URLs
 * with signed relay links (the client's own are kept in the stored parameters). The parameters go in the query;
 * when too long for a URL, in a form body (BBB merges form parameters; its checksum then covers the empty query);
 * an XML body (slides) as it came.
 */
export function createCall(params: Params, links: InstanceLinks, xmlBody?: XmlBody): CreateCall {
  const sent: Params = [
    ...relayCallbacks(params, links).filter(([n]) => n !== "logoutURL"),
    ["logoutURL", rejoinUrl(links.publicUrl, links.linkKey, links.historyId)],
  ];
  const query = encodeQuery(sent);
  if (xmlBody) return { query, body: xmlBody.bytes, contentType: xmlBody.contentType };
  if (query.length <= MAX_CREATE_QUERY) return { query };
  return { query: "", body: query, contentType: "application/x-www-form-urlencoded" };
}

/** Longest value taken from a BBB answer into the store (BBB's own IDs and passwords are far shorter). */
const MAX_DETAIL = 512;

/** What BBB answered to a successful create, as the store keeps it. */
export function createDetails(r: BbbResponse): CreateDetails {
  const s = (v: unknown) => (typeof v === "string" && v !== "" && v.length <= MAX_DETAIL ? v : null);
  return {
    internalMeetingID: s(r.internalMeetingID),
    createTime: s(r.createTime),
    attendeePW: s(r.attendeePW),
    moderatorPW: s(r.moderatorPW),
    voiceBridge: s(r.voiceBridge),
  };
}

/**
 * Servers as placement candidates: with the poller's extra load, whether their meeting cap is reached, and the
 * BBB version bbblb goes by (`serverVersion`).
 */
export function candidates(servers: readonly ServerView[]): (ServerView & Candidate)[] {
  return servers.map((s) => ({
    ...s,
    extraMilli: s.stats.extraMilli,
    full: isFull(s),
    bbbVersion: serverVersion(s),
  }));
}

/**
 * Where a new meeting goes, on a snapshot of the servers (`decidePlacement` of `balancer/placement.ts` decides).
 *
 * @throws {BbbError} `serverTagUnavailable`, `limitExceeded` or `serverUnavailable` when no server may take it
 */
export function chooseServer(
  servers: readonly ServerView[],
  request: PlacementRequest,
): ServerView & Candidate {
  const decision = decidePlacement(candidates(servers), request);
  if (decision.refusal) throw new BbbError(decision.refusal.messageKey, decision.refusal.message);
  return decision.server;
}

/** BBB's answer when a voiceBridge is taken (bbb-web's `<errors>` envelope, without a messageKey). */
export const NON_UNIQUE_VOICE_BRIDGE = "<response><returncode>FAILED</returncode><errors><error>" +
  "<key>nonUniqueVoiceBridge</key><message>The selected voice bridge is already in use.</message>" +
  "</error></errors></response>";

/**
 * Whether a failed create may have been performed by BBB: its answer did not arrive in time, the connection
 * broke after the request was sent, or a proxy in front of BBB gave up waiting (504). A refused connection, any
 * other HTTP status or a body that is not BBB's is taken as not created (a copy made anyway is empty and found
 * by the poller, which ends it).
 */
export function inDoubt(e: BackendError): boolean {
  return e.kind === "timeout" || e.kind === "unreachable" ||
    (e.kind === "http" && / 504 /.test(`${e.message} `));
}

/**
 * What one placement attempt came to: `retry` (read the state again), BBB's `answer`, or `doubt`: the create
 * ended without a telling answer and the claim is in doubt (the caller asks the server before anything else).
 */
export type Placement =
  | { kind: "retry" }
  | { kind: "answer"; text: string; response: BbbResponse; serverId?: number }
  | { kind: "doubt"; claim: Deno.KvEntry<MeetingRecord> };

/** What {@linkcode placeNewMeeting} needs. */
export interface PlaceRequest {
  /** The tenant's store slot. */
  tenant: string;
  /** The tenant's own meetingID (the store's key; BBB gets the one in `params`). */
  meetingID: string;
  /** Declared load in milli-units. */
  loadMilli: number;
  /** The create parameters as BBB gets them (without `load`; the meetingID scoped for a tenant). */
  params: Params;
  xmlBody?: XmlBody;
  /** Servers that failed during this request; grows as servers fail. */
  tried: Set<number>;
}

/**
 * One placement attempt for a meetingID nobody holds: pick the best server, claim the meeting there (meetingID,
 * index, load and voiceBridge in one atomic operation), and create it. `retry` means the caller reads the state
 * again: the meetingID or the server's load changed meanwhile, or the server failed the create (then the claim
 * was released, the server excluded from placement and added to `tried`). A create that BBB may have performed
 * ({@linkcode inDoubt}: no answer within `--create-timeout`, a broken connection, a 504) keeps its claim in doubt
 * (`doubt`), and no other server is tried before the lifecycle asked this one.
 *
 * A voiceBridge the client gives that another running meeting anywhere in the cluster holds (or a related one:
 * breakout room PINs, see `voice_bridge.ts`) is refused the way BBB refuses a duplicate on one server; without
 * one, bbblb allocates a cluster-wide unique one of `--voice-bridge-digits` digits. With `--dial-number` set,
 * the meeting's `dialNumber` is that number, whatever the client gave.
 *
 * @throws {BbbError} `serverUnavailable` when no server is left to try; `validationError` for voiceBridge 99999
 */
export async function placeNewMeeting(ctx: ClusterContext, req: PlaceRequest): Promise<Placement> {
  const given = normalizeVoiceBridge(get(req.params, "voiceBridge"));
  if (given !== undefined) checkGivenVoiceBridge(given);
  const voiceBridge = given ?? await allocateVoiceBridge(ctx.kv, voiceBridgeDigitsOf(ctx));
  const historyId = newHistoryId();
  const tags = parseTagRequest(tagParamOf(req.params));
  // The parameters as kept (and sent, with the server's tags): kept in the claim's own commit when they fit.
  const params: Params = [
    ...req.params.filter(([n]) =>
      n !== "voiceBridge" && (ctx.dialNumber === undefined || n !== "dialNumber")
    ),
    ["voiceBridge", voiceBridge],
    ...(ctx.dialNumber !== undefined ? [["dialNumber", ctx.dialNumber] as [string, string]] : []),
  ];
  const kept = paramsFitClaim(params);

  const choose = async ({ servers, versionstamp, fresh }: ServerSnapshot) => {
    let target;
    try {
      target = chooseServer(servers, { tags, exclude: req.tried, failures: req.tried.size });
    } catch (e) {
      // Refused on a kept snapshot (a meeting may have ended since, a server come back): no claim would fail
      // to tell, so read the store again before refusing.
      if (fresh) throw e;
      ctx.placer?.forget();
      return { target: null, claim: null };
    }
    const claim = await claimMeeting(ctx.kv, {
      tenant: req.tenant,
      meetingID: req.meetingID,
      serverId: target.id,
      loadMilli: req.loadMilli,
      loadEntry: { value: target.loadMilli, versionstamp: target.loadVersionstamp },
      voiceBridge,
      relatedVoiceBridges: relatedPins(voiceBridge),
      historyId,
      serversVersionstamp: versionstamp,
      params: kept ? params : undefined,
      now: Date.now(),
    });
    if (claim) ctx.placer?.claimed(target.id, target.loadMilli + req.loadMilli, claim.versionstamp);
    else ctx.placer?.forget();
    return { target, claim };
  };
  const { target, claim } = ctx.placer
    ? await ctx.placer.turn(ctx.kv, choose)
    : await choose(await readSnapshot(ctx.kv));
  if (!target) return { kind: "retry" };
  if (!claim) {
    const meetingTaken = (await getMeeting(ctx.kv, req.tenant, req.meetingID)).value !== null;
    if (given !== undefined && !meetingTaken && await voiceBridgeTaken(ctx.kv, voiceBridge, req)) {
      return {
        kind: "answer",
        text: NON_UNIQUE_VOICE_BRIDGE,
        response: { returncode: "FAILED" },
      };
    }
    return { kind: "retry" };
  }

  const call = createCall(withServerTags(params, target.tags), {
    publicUrl: ctx.publicUrl,
    linkKey: ctx.linkKey,
    historyId,
  }, req.xmlBody);
  let answer;
  try {
    answer = await callServer(ctx, target, "create", call.query, {
      ...call,
      timeoutMs: createTimeoutOf(ctx),
    });
  } catch (e) {
    ctx.placer?.forget();
    if (e instanceof BackendError && inDoubt(e)) {
      // BBB may have created it and only the answer was lost: in doubt, never simply released.
      const doubt = await markDoubt(ctx.kv, claim, kept ? null : params);
      ctx.log.warn("create in doubt: no telling answer from the server", {
        meetingID: req.meetingID,
        tenant: req.tenant || undefined,
        server: target.id,
        error: e.message,
      });
      return doubt ? { kind: "doubt", claim: doubt } : { kind: "retry" };
    }
    await removeMeeting(ctx.kv, claim, "createFailed");
    if (!(e instanceof BackendError)) throw e;
    req.tried.add(target.id);
    return { kind: "retry" };
  }
  if (answer.response.returncode !== "SUCCESS") {
    await removeMeeting(ctx.kv, claim, "createFailed");
    ctx.placer?.forget();
    ctx.log.info("create refused by server", {
      meetingID: req.meetingID,
      server: target.id,
      messageKey: answer.response.messageKey ?? answer.response.errors?.error?.[0]?.key,
    });
    return { kind: "answer", text: answer.text, response: answer.response };
  }
  ctx.log.info("meeting placed", {
    meetingID: req.meetingID,
    tenant: req.tenant || undefined,
    server: target.id,
    load: req.loadMilli / 1000,
  });
  // BBB's answer is recorded after the client has it: the claim's commit is the only one on the create's path.
  // Until it lands, calls naming the meeting wait for the claim as for any create in flight; if the process dies
  // first, the claim is settled by asking the server (the poll round or the chores: `settleClaim`).
  const details = createDetails(answer.response);
  track(
    req.tenant,
    req.meetingID,
    markRunning(ctx.kv, claim, details, kept ? null : params).then(
      (running) => {
        if (!running) {
          ctx.log.warn("claim changed while the meeting was created", { meetingID: req.meetingID });
        }
      },
      (e) =>
        ctx.log.error("recording a created meeting failed; its claim is settled later", {
          meetingID: req.meetingID,
          tenant: req.tenant || undefined,
          error: storeProblem(e) ?? String((e as Error)?.message ?? e),
        }),
    ),
  );
  return { kind: "answer", text: answer.text, response: answer.response, serverId: target.id };
}

/** Creates whose BBB answer is still being recorded (see {@linkcode placeNewMeeting}), by tenant and meetingID. */
const recording = new Map<string, Promise<void>>();

function track(tenant: string, meetingID: string, write: Promise<void>): void {
  const ref = `${tenant}\u0000${meetingID}`;
  recording.set(ref, write);
  write.finally(() => {
    if (recording.get(ref) === write) recording.delete(ref);
  });
}

/**
 * The recording of a create this process answered whose BBB answer is not in the store yet, if any: a call naming
 * the meeting waits for it rather than polling the store.
 */
export function createBeingRecorded(tenant: string, meetingID: string): Promise<void> | undefined {
  return recording.get(`${tenant}\u0000${meetingID}`);
}

/**
 * Wait until every create answered so far has its BBB answer recorded in the store (`serve` before it closes the
 * store; tests before they read it).
 */
export async function createsRecorded(): Promise<void> {
  while (recording.size > 0) await Promise.all(recording.values());
}
