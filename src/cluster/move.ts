/**
 * Moving a running meeting to another server: create it there first, from its stored create parameters with the
 * passwords and voiceBridge BBB answered at its first create; only when that worked, switch bbblb's record and
 * end it on the old server. A failed move changes nothing. Used by the API's `move`, failover on create and
 * join, and `bbblb panic`.
 *
 * @module
 */
import { filterByTags, parseTagRequest, tagParamOf, withServerTags } from "../balancer/tags.ts";
import { BackendError } from "../bbb/client.ts";
import { BbbError, meetingNotFound } from "../bbb/errors.ts";
import { encodeQuery, type Params } from "../bbb/query.ts";
import {
  getMeeting,
  loadCreateParams,
  type MeetingRecord,
  newHistoryId,
  saveCreateParams,
  switchServer,
} from "../store/meetings.ts";
import {
  getServerWithHealth,
  isGone,
  listServers,
  type ServerRecord,
  serverVersion,
} from "../store/servers.ts";
import {
  callServer,
  type ClusterContext,
  createTimeoutOf,
  failoverDelayOf,
  serverUnavailable,
} from "./context.ts";
import { candidates, createCall, createDetails } from "./create.ts";
import {
  decidePlacement,
  MAX_SERVERS_PER_CREATE,
  parseBbbVersion,
  versionTags,
} from "../balancer/placement.ts";
import { backendMeetingID, scopeCreateParams } from "./tenancy.ts";
import { probeMeeting } from "./probe.ts";
import type { BbbResponse } from "../bbb/xml.ts";

/** Options of {@linkcode moveMeeting}. */
export interface MoveOptions {
  /** The target server; without it the target is chosen like a create's, excluding the current server. */
  serverId?: number;
  /** End the meeting on the old server once it runs on the new one (not when the old server is offline). */
  endOld: boolean;
  /** Why, for the log: `move`, `failover` or `panic`. */
  reason: string;
  /** Create parameters to use when none were stored (a meeting bbblb adopted). */
  fallbackParams?: Params;
}

/** A moved meeting: its new record and the target's create answer. */
export interface MoveResult {
  entry: Deno.KvEntry<MeetingRecord>;
  /** The target's answer to the create, as it came. */
  text: string;
  /**
   * The meeting had no stored create parameters (bbblb adopted it): what its server told (name, metadata,
   * duration, maxUsers) was used; other create parameters (record, welcome, lock settings, …) were not known.
   */
  recovered: boolean;
}

/**
 * The parameters to re-create a meeting elsewhere: its stored create parameters with the passwords and
 * voiceBridge BBB answered at the first create, so join links and dial-in numbers keep working. A meeting bbblb
 * adopted has none stored: then `fallback` (a create's own parameters), else what its server tells in
 * getMeetingInfo (see {@linkcode recoveredParams}), else its meetingID as name.
 */
export async function recreateParams(
  ctx: ClusterContext,
  m: MeetingRecord,
  fallback: Params = [],
): Promise<Params> {
  return (await paramsToRecreate(ctx, m, fallback, undefined)).params;
}

/** @param info the server's getMeetingInfo answer when a probe already has it (it is not asked again) */
async function paramsToRecreate(
  ctx: ClusterContext,
  m: MeetingRecord,
  fallback: Params,
  info: BbbResponse | undefined,
): Promise<{ params: Params; recovered: boolean }> {
  let stored = await loadCreateParams(ctx.kv, m.historyId);
  let recovered = false;
  if (!stored && fallback.length > 0) stored = fallback;
  if (!stored) {
    stored = info ? paramsFromInfo(m, info) : await recoveredParams(ctx, m);
    recovered = stored !== null;
  }
  stored ??= scopeCreateParams(m.tenant, [["meetingID", m.meetingID], ["name", m.meetingID]]);
  const kept: [string, string | null][] = [
    ["attendeePW", m.attendeePW],
    ["moderatorPW", m.moderatorPW],
    ["voiceBridge", m.voiceBridge],
  ];
  const replaced = new Set(kept.filter(([, v]) => v !== null).map(([n]) => n));
  const params: Params = [
    ...stored.filter(([n]) => !replaced.has(n)),
    ...kept.filter((p): p is [string, string] => p[1] !== null),
  ];
  return { params, recovered };
}

/**
 * Create parameters rebuilt from what a meeting's server tells in getMeetingInfo (BBB answers the meeting's
 * name, metadata, duration and maxUsers there), for a meeting bbblb adopted; `null` when the server does not
 * answer with the meeting.
 */
export async function recoveredParams(ctx: ClusterContext, m: MeetingRecord): Promise<Params | null> {
  const s = await getServerWithHealth(ctx.kv, m.serverId);
  if (!s) return null;
  const backendID = backendMeetingID(m.tenant, m.meetingID);
  try {
    const answer = await callServer(ctx, s.server, "getMeetingInfo", encodeQuery([["meetingID", backendID]]));
    return paramsFromInfo(m, answer.response);
  } catch (e) {
    if (e instanceof BackendError) return null;
    throw e;
  }
}

/** Create parameters from a getMeetingInfo answer about `m`; `null` when it is not a running `m`. */
function paramsFromInfo(m: MeetingRecord, info: BbbResponse): Params | null {
  const backendID = backendMeetingID(m.tenant, m.meetingID);
  if (info.returncode !== "SUCCESS" || info.meetingID !== backendID) return null;
  const text = (v: unknown) => (typeof v === "string" && v !== "" && v.length <= 10_000 ? v : null);
  const params: Params = [["meetingID", backendID], ["name", text(info.meetingName) ?? m.meetingID]];
  for (const name of ["duration", "maxUsers"]) {
    if (/^[1-9]\d*$/.test(text(info[name]) ?? "")) params.push([name, info[name]]);
  }
  if (info.metadata && typeof info.metadata === "object") {
    for (const [key, value] of Object.entries(info.metadata as Record<string, unknown>)) {
      if (text(value) !== null && /^[a-zA-Z][a-zA-Z0-9-]*$/.test(key)) {
        params.push([`meta_${key}`, value as string]);
      }
    }
  }
  return params;
}

/**
 * Move a running meeting to another server.
 *
 * @throws {BbbError} `serverUnavailable` when no target could create it (nothing was changed or ended);
 *   `notFound` when the meeting ended or moved meanwhile
 */
export async function moveMeeting(
  ctx: ClusterContext,
  entry: Deno.KvEntry<MeetingRecord>,
  options: MoveOptions,
): Promise<MoveResult> {
  const m = entry.value;
  const old = options.endOld ? await askOldCopy(ctx, m) : { endOld: false, info: undefined };
  const endOld = old.endOld;
  const { params, recovered } = await paramsToRecreate(ctx, m, options.fallbackParams ?? [], old.info);
  const tags = parseTagRequest(tagParamOf(params));
  const tried = new Set<number>([m.serverId]);
  for (let attempt = 0; attempt < MAX_SERVERS_PER_CREATE; attempt++) {
    let target;
    if (options.serverId !== undefined) {
      target = await explicitTarget(ctx, options.serverId);
    } else {
      // Decided like a create's placement; the meeting's own server and the targets that failed are excluded, and
      // servers of the BBB major version it ran on are preferred.
      const servers = candidates(await listServers(ctx.kv));
      const from = servers.find((s) => s.id === m.serverId);
      const decision = decidePlacement(servers, {
        tags,
        exclude: tried,
        failures: attempt,
        major: parseBbbVersion(from?.bbbVersion)?.major ?? null,
      });
      if (decision.refusal && decision.refusal.messageKey !== "serverUnavailable") {
        throw new BbbError(decision.refusal.messageKey, decision.refusal.message);
      }
      target = decision.server;
    }
    if (!target || (options.serverId !== undefined && attempt > 0)) break;
    if (
      options.serverId !== undefined &&
      filterByTags([{ ...target, bbbVersion: serverVersion(target) }], tags, versionTags).servers.length === 0
    ) {
      throw new BbbError(
        "serverNotEligible",
        `Server ${target.id} does not carry the tag the meeting asks for (${
          tagParamOf(params) ?? "untagged"
        }).`,
      );
    }
    tried.add(target.id);
    const historyId = newHistoryId();
    const call = createCall(withServerTags(params, target.tags), {
      publicUrl: ctx.publicUrl,
      linkKey: ctx.linkKey,
      historyId,
    });
    let answer;
    try {
      answer = await callServer(ctx, target, "create", call.query, {
        ...call,
        timeoutMs: createTimeoutOf(ctx),
      });
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
      continue;
    }
    if (answer.response.returncode !== "SUCCESS") {
      ctx.log.warn("move: the target refused the create", {
        meetingID: m.meetingID,
        server: target.id,
        messageKey: answer.response.messageKey ?? answer.response.errors?.error?.[0]?.key,
      });
      continue;
    }
    await saveCreateParams(ctx.kv, historyId, params);
    const moved = await switchServer(ctx.kv, entry, {
      serverId: target.id,
      historyId,
      details: createDetails(answer.response),
      now: Date.now(),
    });
    if (!moved) {
      // It ended or moved while we created it: the copy on the target is nobody's; end it again.
      await endOn(
        ctx,
        target,
        backendMeetingID(m.tenant, m.meetingID),
        createDetails(answer.response).moderatorPW,
      );
      const current = await getMeeting(ctx.kv, m.tenant, m.meetingID);
      if (current.value?.status === "running") {
        throw new BbbError("serverUnavailable", "The meeting changed while it was being moved; try again.");
      }
      throw meetingNotFound();
    }
    ctx.log.info("meeting moved", {
      tenant: m.tenant || undefined,
      meetingID: m.meetingID,
      from: m.serverId,
      to: target.id,
      reason: options.reason,
    });
    if (endOld) {
      const old = await getServerWithHealth(ctx.kv, m.serverId);
      if (old) await endOn(ctx, old.server, backendMeetingID(m.tenant, m.meetingID), m.moderatorPW);
    }
    if (recovered) {
      ctx.log.info(
        "moved meeting was adopted: name and metadata recovered from its server, not its other settings",
        {
          meetingID: m.meetingID,
        },
      );
    }
    return { entry: moved, text: answer.text, recovered };
  }
  throw serverUnavailable("No other BBB server could take the meeting; it stays where it was.");
}

/**
 * Before a move that ends the old copy: whether its server answers for the meeting. A server that does not
 * answer could not end the old copy after the switch, so its participants would stay in a room nobody joins any
 * more (a split with people on both sides): such a move is refused while the server is not gone. A gone server
 * (`isGone`) cannot be asked: the move goes ahead without ending anything, as a failover does.
 *
 * @returns whether to end the old copy after the switch, and the server's getMeetingInfo answer when it runs the
 *   meeting (so an adopted meeting's parameters are recovered from it without asking again)
 * @throws {BbbError} `serverUnavailable` when the server is silent but not gone
 */
async function askOldCopy(
  ctx: ClusterContext,
  m: MeetingRecord,
): Promise<{ endOld: boolean; info: BbbResponse | undefined }> {
  const s = await getServerWithHealth(ctx.kv, m.serverId);
  if (!s) return { endOld: false, info: undefined };
  const probe = await probeMeeting(ctx, s.server, backendMeetingID(m.tenant, m.meetingID));
  if (probe.state === "running") return { endOld: true, info: probe.info };
  if (probe.state === "absent") return { endOld: true, info: undefined };
  const now = await getServerWithHealth(ctx.kv, m.serverId);
  if (!now || isGone(now.health, Date.now(), failoverDelayOf(ctx))) return { endOld: false, info: undefined };
  throw serverUnavailable(
    `The meeting's BBB server (${m.serverId}) does not answer: moving the meeting now would leave its ` +
      "participants behind in the old room. Try again when the server answers.",
  );
}

async function explicitTarget(ctx: ClusterContext, id: number) {
  const s = await getServerWithHealth(ctx.kv, id);
  return s ? { ...s.server } : undefined;
}

/**
 * End a meeting on a server (with the moderator password, which BBB 2.x still wants); failures are logged.
 *
 * @param meetingID the meetingID as the server knows it (scoped for a tenant, see `backendMeetingID`)
 */
export async function endOn(
  ctx: ClusterContext,
  server: ServerRecord,
  meetingID: string,
  moderatorPW: string | null,
) {
  const params: Params = [["meetingID", meetingID]];
  if (moderatorPW) params.push(["password", moderatorPW]);
  try {
    const answer = await callServer(ctx, server, "end", encodeQuery(params));
    if (answer.response.returncode !== "SUCCESS" && answer.response.messageKey !== "notFound") {
      ctx.log.warn("could not end the old copy", { meetingID, server: server.id });
    }
  } catch {
    // logged by callServer; the poller ends a stale copy that nobody is in when the server comes back
  }
}
