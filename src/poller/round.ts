/**
 * One poll round: ask every server for its meetings, keep health, reconcile bbblb's meetings with what the
 * servers report, keep live counts, and repair load sums. Pure-ish: everything it needs is injected, so tests
 * call it directly with fake servers and no sleeps.
 *
 * @module
 */
import { type BackendAnswer, BackendError, callBackend } from "../bbb/client.ts";
import { encodeQuery } from "../bbb/query.ts";
import { parseMeetingList } from "../bbb/xml.ts";
import type { Logger } from "../log.ts";
import { mapLimit } from "../cluster/map_limit.ts";
import { registerHook } from "../cluster/hooks.ts";
import { listHooks } from "../store/hooks.ts";
import { repairLoad } from "../store/load.ts";
import {
  adoptMeeting,
  getMeeting,
  isUnsettled,
  listAllLive,
  listAllMeetings,
  listAllSeen,
  type MeetingLive,
  type MeetingRecord,
  meetingRef,
  newHistoryId,
  removeMeeting,
  type SeenRecord,
  setSeen,
  switchServer,
  writeLive,
} from "../store/meetings.ts";
import {
  disableCordoned,
  failedHealth,
  getServerEntry,
  goodHealth,
  type HealthWrite,
  listServers,
  type ServerStats,
  type ServerView,
  writeRoundHealth,
  writeServerStats,
} from "../store/servers.ts";
import { listTenants, writeTenantParticipants } from "../store/tenants.ts";
import { backendMeetingID, tenantOfBackendID } from "../cluster/tenancy.ts";
import { splitAction, staleClaimMs, trackClaim } from "../cluster/lifecycle.ts";
import { reconcileVoiceBridges } from "../cluster/voice_bridge.ts";
import { refreshVersions } from "../cluster/versions.ts";
import { countBots } from "../cluster/bots.ts";
import { endOverdueMeetings } from "../cluster/overdue.ts";

/** What a round needs. */
export interface PollDeps {
  kv: Deno.Kv;
  /** Timeout of each call to a server, in ms. */
  backendTimeoutMs: number;
  /** Consecutive failures that make a server offline. */
  failThreshold: number;
  /** Consecutive good rounds that make an offline server online again. */
  recoverThreshold: number;
  /** How many servers are asked at the same time. @default 50 */
  concurrency?: number;
  /**
   * getMeetings answers (of requests started after the meeting's create answer arrived) that must miss a meeting
   * before it is judged ended (`--missed-rounds`). @default 2
   */
  missedRounds?: number;
  /**
   * A claim still `creating` after this long (ms) was abandoned by a process that died during the create; such
   * claims and claims in doubt are settled by what their server lists — running there: tracked as running; not
   * listed by `missedRounds` answers started after the create ended: released. `serve` passes `staleClaimMs` of
   * `cluster/lifecycle.ts`. @default staleClaimMs(15 000)
   */
  staleClaimMs?: number;
  /**
   * What this process remembers across rounds (`serve` keeps one per poller). Without it every round may end
   * copies; with it, nothing is ended until every server has been polled twice since the process started (a
   * restored old backup must not end live meetings).
   */
  state?: PollState;
  fetch?: typeof fetch;
  log: Logger;
  /** @default Date.now */
  now?: () => number;
  /**
   * Minutes a meeting may run past its `duration` before the poller ends it (`--overdue-grace-minutes`, see
   * `cluster/overdue.ts`). @default 10
   */
  overdueGraceMinutes?: number;
  /** bbblb's public URL and link key, for the hook relay links registered on servers; without them the poller
   * registers no hooks. */
  links?: { publicUrl: string; linkKey: Uint8Array };
  /** Told each server's successful getMeetings answer (`serve` keeps them for getMeetings; see `fan_out.ts`). */
  onMeetingList?: (serverId: number, text: string) => void;
}

/**
 * What a poller process remembers across rounds: how often it asked each server since it started, and when it
 * last read each server's BBB version (`cluster/versions.ts`).
 */
export interface PollState {
  polls: Map<number, number>;
  versionChecks?: Map<number, number>;
}

/** A fresh {@linkcode PollState}. */
export function newPollState(): PollState {
  return { polls: new Map(), versionChecks: new Map() };
}

/** What a round did, for logs, metrics and tests. */
export interface RoundReport {
  durationMs: number;
  servers: number;
  failedServers: number;
  /** Meetings found ended (not listed for `missedRounds` rounds) and removed. */
  ended: number;
  /** Unknown running meetings adopted. */
  adopted: number;
  /** Load sums found wrong and repaired. */
  repaired: number;
  /** Copies of split meetings ended (empty for two rounds, never with participants). */
  staleEnded: number;
  /** Split meetings switched to the copy that had the participants. */
  switched: number;
  /** Meetings running on more than one server at the end of the round. */
  splits: number;
  /** How long each server took to answer (or fail) its getMeetings call this round, in ms, by server id. */
  serverDurationsMs: Record<number, number>;
  /** Abandoned claims settled: tracked as running (the server has the meeting) or released. */
  claimsSettled: number;
}

/** One meeting as a server listed it. */
interface Listed {
  meetingID: string;
  internalMeetingID: string | null;
  createTime: string | null;
  moderatorPW: string | null;
  attendeePW: string | null;
  voiceBridge: string | null;
  ended: boolean;
  isBreakout: boolean;
  /** `duration` in minutes (0: none). */
  duration: number;
  /** `startTime`, else `createTime`, in ms (`null`: not given). */
  startedAt: number | null;
  participants: number;
  listeners: number;
  voiceParticipants: number;
  videos: number;
  moderators: number;
}

/** A server's answer to this round's getMeetings; `startedAt` is when the request was sent (ms). */
type PollResult = { ok: true; listed: Listed[]; startedAt: number } | { ok: false; error: string };

/**
 * Run one round. Never throws for a server's failure; a store failure propagates (the loop logs it and goes
 * on with the next round).
 */
export async function pollRound(deps: PollDeps): Promise<RoundReport> {
  const started = performance.now();
  const now = deps.now ?? Date.now;
  const report: RoundReport = {
    durationMs: 0,
    servers: 0,
    failedServers: 0,
    ended: 0,
    adopted: 0,
    repaired: 0,
    staleEnded: 0,
    switched: 0,
    splits: 0,
    serverDurationsMs: {},
    claimsSettled: 0,
  };
  // Order matters for the load repair below: loads are read before meetings (see repairLoads).
  const servers = await listServers(deps.kv);
  const [meetings, lives, tenants, marks] = await Promise.all([
    listAllMeetings(deps.kv),
    listAllLive(deps.kv),
    listTenants(deps.kv),
    listAllSeen(deps.kv),
  ]);
  const tenantNames = new Set(tenants.map((t) => t.name));
  report.servers = servers.length;

  for (const s of servers) deps.state?.polls.set(s.id, (deps.state.polls.get(s.id) ?? 0) + 1);
  // Nothing is ended on a server until every server has been polled twice by this process.
  const mayEnd = !deps.state || servers.every((s) => (deps.state!.polls.get(s.id) ?? 0) >= 2);
  const results = await mapLimit(servers, deps.concurrency ?? 50, async (s) => {
    const started = performance.now();
    const result = await fetchMeetings(deps, s);
    report.serverDurationsMs[s.id] = performance.now() - started;
    return result;
  });
  const healthWrites: HealthWrite[] = [];
  const copies: Copy[] = [];
  const liveWrites: [string, string, MeetingLive][] = [];
  const liveSeen = new Set<string>();
  const tenantParticipants = new Map<string, number>();
  const byId = new Map(meetings.map((m) => [meetingRef(m.value.tenant, m.value.meetingID), m]));
  const byServer = Map.groupBy(meetings, (m) => m.value.serverId);
  const released = new Set<string>();
  const heldByClaim: ReconcileState["heldByClaim"] = [];
  const serverIds = new Set(servers.map((s) => s.id));

  for (const [i, server] of servers.entries()) {
    const result = results[i];
    if (!result.ok) {
      report.failedServers++;
      healthWrites.push({
        id: server.id,
        from: server.health,
        to: failedHealth(server.health, result.error, deps.failThreshold, now()),
      });
      continue;
    }
    healthWrites.push({
      id: server.id,
      from: server.health,
      to: goodHealth(server.health, deps.recoverThreshold, now()),
    });
    const mine = byServer.get(server.id) ?? [];
    try {
      await reconcile(deps, {
        server,
        listed: result.listed,
        startedAt: result.startedAt,
        copies,
        mine,
        byId,
        lives,
        liveWrites,
        liveSeen,
        report,
        tenantNames,
        tenantParticipants,
        released,
        heldByClaim,
      });
    } catch (e) {
      // One server's odd data must not stop the round for the others (health is written below regardless).
      deps.log.error("reconciling a server failed", {
        server: server.id,
        error: String((e as Error)?.message ?? e),
      });
    }
  }

  // A meeting another server runs under the meetingID of a claim released this round (its create never reached
  // BBB, or reached another server) is adopted now, not a round later: until then a join would be notFound.
  for (const { server, listed, owner } of heldByClaim) {
    if (released.has(meetingRef(owner.tenant, owner.meetingID)) && await adopt(deps, server, listed, owner)) {
      report.adopted++;
    }
  }

  // Meetings on servers that were removed are dropped.
  for (const m of meetings) {
    if (!serverIds.has(m.value.serverId) && await removeMeeting(deps.kv, m, "serverRemoved")) {
      deps.log.info("meeting dropped: its server was removed", { meetingID: m.value.meetingID });
    }
  }

  await healSplits(deps, { servers, results, byId, marks, copies, mayEnd, report });
  await writeHealth(deps, healthWrites);
  await ensureHooks(deps, servers.filter((_, i) => results[i].ok), servers);
  if (deps.state?.versionChecks) {
    await refreshVersions(deps, servers.filter((_, i) => results[i].ok), deps.state.versionChecks);
  }
  // Live records of meetings that are gone (or of an older instance) are deleted.
  const orphans = [...lives.entries()]
    .filter(([ref, e]) => !liveSeen.has(ref) && byId.get(ref)?.value.historyId !== e.value.historyId)
    .map(([, e]) => e);
  await writeLive(deps.kv, liveWrites, orphans);
  // Each tenant's participants, so a join checks a participant limit with one read (no scan on the request path).
  await writeTenantParticipants(
    deps.kv,
    new Map([...tenantNames].map((t) => [t, tenantParticipants.get(t) ?? 0])),
  );
  report.repaired = await repairLoads(deps, servers, byServer);
  // PINs of meetings adopted this round are reserved, and PINs two servers gave out are marked not routable.
  await reconcileVoiceBridges(deps.kv, deps.log);
  report.durationMs = performance.now() - started;
  return report;
}

/**
 * Register every hook created through bbblb on each server that answered this round and lacks it (servers added
 * later), and again on servers back from an outage (a reinstalled server lost its hooks; BBB's webhooks module is
 * idempotent per callbackURL, so a server that kept them answers with the same hook).
 */
async function ensureHooks(deps: PollDeps, answered: ServerView[], all: ServerView[]): Promise<void> {
  const hooks = await listHooks(deps.kv);
  if (hooks.length === 0 || !deps.links) return;
  const ctx = { ...deps, ...deps.links };
  const wasOffline = new Set(all.filter((s) => !s.health.online).map((s) => s.id));
  for (const { value: hook } of hooks) {
    const missing = answered.filter((s) => !(String(s.id) in hook.registrations) || wasOffline.has(s.id));
    await mapLimit(missing, deps.concurrency ?? 50, (s) => registerHook(ctx, s, hook));
  }
}

/** A meeting a server lists running while bbblb's record of it names another server. */
interface Copy {
  serverId: number;
  tenant: string;
  meetingID: string;
  listed: Listed;
}

interface ReconcileState {
  server: ServerView;
  listed: Listed[];
  /** When this server's getMeetings request was sent (ms since the epoch). */
  startedAt: number;
  /** Copies found on this server, for the split pass. */
  copies: Copy[];
  mine: Deno.KvEntry<MeetingRecord>[];
  byId: Map<string, Deno.KvEntry<MeetingRecord>>;
  lives: Map<string, Deno.KvEntry<MeetingLive>>;
  liveWrites: [tenant: string, meetingID: string, live: MeetingLive][];
  liveSeen: Set<string>;
  report: RoundReport;
  /** The names of the tenants: a listed `<tenant>~<id>` of one of them is that tenant's meeting `<id>`. */
  tenantNames: ReadonlySet<string>;
  /** Participants in each tenant's meetings, summed over the servers of this round. */
  tenantParticipants: Map<string, number>;
  /** Meetings whose unsettled claim this round released (by meetingRef). */
  released: Set<string>;
  /** Listed meetings left alone because a claim held their meetingID: adopted if that claim is released. */
  heldByClaim: { server: ServerView; listed: Listed; owner: { tenant: string; meetingID: string } }[];
}

async function reconcile(deps: PollDeps, st: ReconcileState): Promise<void> {
  const { server, report } = st;
  const now = (deps.now ?? Date.now)();
  const missedRounds = deps.missedRounds ?? 2;
  const staleMs = deps.staleClaimMs ?? staleClaimMs(15_000);
  const running = new Map(st.listed.filter((l) => !l.ended).map((l) => [l.meetingID, l]));
  const stats: ServerStats = { participants: 0, videos: 0, extraMilli: 0 };
  for (const l of running.values()) {
    stats.participants += l.participants;
    stats.videos += l.videos;
  }

  for (const entry of st.mine) {
    const m = entry.value;
    const ref = meetingRef(m.tenant, m.meetingID);
    const live = st.lives.get(ref);
    const before = live?.value.historyId === m.historyId ? live.value : undefined;
    const l = running.get(backendMeetingID(m.tenant, m.meetingID));
    let next: MeetingLive;
    if (m.status !== "running") {
      // A create in flight is its request's business, unless it is in doubt or its process died.
      if (!isUnsettled(m, staleMs, now)) continue;
      if (l) {
        if (await trackClaim(deps, entry, detailsOf(l))) report.claimsSettled++;
        continue;
      }
      // Only answers to requests sent after the create ended can tell that BBB did not create it.
      const createEnded = m.doubtSince ?? m.claimedAt + staleMs;
      if (st.startedAt <= createEnded) continue;
      const missed = (before?.missed ?? 0) + 1;
      if (missed >= missedRounds) {
        if (await removeMeeting(deps.kv, entry, "createFailed", now)) {
          report.claimsSettled++;
          st.released.add(ref);
          deps.log.warn("claim released: the server does not run the meeting", {
            meetingID: m.meetingID,
            tenant: m.tenant || undefined,
            server: m.serverId,
          });
        }
        continue;
      }
      next = { ...(before ?? emptyLive(m.historyId)), missed };
    } else if (l) {
      next = {
        historyId: m.historyId,
        participants: l.participants,
        listeners: l.listeners,
        voiceParticipants: l.voiceParticipants,
        videos: l.videos,
        moderators: l.moderators,
        missed: 0,
      };
      stats.extraMilli += Math.max(0, (l.participants + l.videos) * 1000 - m.loadMilli);
      st.tenantParticipants.set(m.tenant, (st.tenantParticipants.get(m.tenant) ?? 0) + l.participants);
    } else {
      // Only answers to requests sent after bbblb learned that it runs can show it ended.
      // (BBB created it before it answered, so a request sent in the answer's millisecond already sees it.)
      if (st.startedAt < (m.runningSince ?? m.claimedAt)) {
        if (before) st.liveSeen.add(ref);
        continue;
      }
      const missed = (before?.missed ?? 0) + 1;
      if (missed >= missedRounds) {
        if (await removeMeeting(deps.kv, entry, "dropped", now)) {
          report.ended++;
          deps.log.info("meeting ended", {
            meetingID: m.meetingID,
            tenant: m.tenant || undefined,
            server: server.id,
          });
        }
        continue;
      }
      next = { ...(before ?? emptyLive(m.historyId)), missed };
    }
    st.liveSeen.add(ref);
    if (!before || !sameLive(before, next)) {
      st.liveWrites.push([m.tenant, m.meetingID, next]);
    }
  }

  // Meetings are matched by the ID the server knows (scoped for a tenant's meetings).
  const mineIds = new Set(st.mine.map((e) => backendMeetingID(e.value.tenant, e.value.meetingID)));
  for (const l of running.values()) {
    if (mineIds.has(l.meetingID) || l.isBreakout) continue;
    const owner = tenantOfBackendID(l.meetingID, st.tenantNames);
    const elsewhere = st.byId.get(meetingRef(owner.tenant, owner.meetingID));
    if (elsewhere) {
      if (elsewhere.value.status === "running") st.copies.push({ serverId: server.id, ...owner, listed: l });
      else st.heldByClaim.push({ server, listed: l, owner });
      continue;
    }
    if (await adopt(deps, server, l, owner)) report.adopted++;
  }

  await endOverdueMeetings(deps, server, [...running.values()]);
  await writeServerStats(deps.kv, server.id, stats);
  if (server.state === "cordoned" && st.mine.length === 0 && running.size === 0) {
    // Scalelite's drain: a cordoned server that has emptied becomes disabled.
    if (await disableCordoned(deps.kv, server.id)) {
      deps.log.info("cordoned server is empty: disabled", { server: server.id });
    }
  }
}

/** What the split pass needs from the round. */
interface SplitState {
  servers: ServerView[];
  results: PollResult[];
  byId: Map<string, Deno.KvEntry<MeetingRecord>>;
  marks: Deno.KvEntry<SeenRecord>[];
  copies: Copy[];
  mayEnd: boolean;
  report: RoundReport;
}

/**
 * Heal splits by the one sticky rule of `cluster/lifecycle.ts` (`splitAction`): keep a mark per copy with its
 * empty rounds, switch to the copy that has the participants, end copies empty for two rounds. Each split is
 * logged when it is found and when it is healed, not every round.
 */
async function healSplits(deps: PollDeps, st: SplitState): Promise<void> {
  const answered = new Map<number, Map<string, Listed>>();
  st.servers.forEach((s, i) => {
    const r = st.results[i];
    if (r.ok) answered.set(s.id, new Map(r.listed.filter((l) => !l.ended).map((l) => [l.meetingID, l])));
  });
  const markOf = new Map(st.marks.map((e) => [seenRef(e), e]));
  const found = new Set<string>();
  const splitMeetings = new Set<string>();
  const now = (deps.now ?? Date.now)();
  for (const c of st.copies) {
    const ref = meetingRef(c.tenant, c.meetingID);
    const entry = st.byId.get(ref)!;
    const key = `${ref}\u0000${c.serverId}`;
    found.add(key);
    const old = markOf.get(key)?.value;
    const participants = c.listed.participants;
    const mark: SeenRecord = {
      kind: "copy",
      since: old?.kind === "copy" ? old.since : now,
      emptyRounds: participants > 0 ? 0 : (old?.kind === "copy" ? old.emptyRounds : 0) + 1,
      participants,
    };
    const canonicalServer = answered.get(entry.value.serverId);
    if (!canonicalServer) {
      // The recorded copy's server did not answer: nothing can be judged this round.
      await setSeen(deps.kv, c.tenant, c.meetingID, c.serverId, mark);
      splitMeetings.add(ref);
      continue;
    }
    const canonical = canonicalServer.get(backendMeetingID(c.tenant, c.meetingID))?.participants ?? null;
    const fields = {
      meetingID: c.meetingID,
      tenant: c.tenant || undefined,
      server: c.serverId,
      current: entry.value.serverId,
      participants,
      currentParticipants: canonical ?? undefined,
    };
    const action = splitAction(entry.value, mark, canonical, st.mayEnd);
    if (action.kind === "switch") {
      const switched = await switchServer(deps.kv, entry, {
        serverId: c.serverId,
        historyId: newHistoryId(now),
        details: detailsOf(c.listed),
        now,
        splitSwitched: true,
      });
      await setSeen(deps.kv, c.tenant, c.meetingID, c.serverId, null);
      if (switched) {
        st.report.switched++;
        deps.log.warn("split meeting healed: switched to the copy with the participants", fields);
      }
      continue;
    }
    if (action.kind === "end") {
      const server = st.servers.find((s) => s.id === c.serverId)!;
      if (await endCopy(deps, server, c.listed)) {
        st.report.staleEnded++;
        await setSeen(deps.kv, c.tenant, c.meetingID, c.serverId, null);
        deps.log.info("split meeting healed: ended the copy nobody was in", fields);
        continue;
      }
    }
    splitMeetings.add(ref);
    if (!old || old.kind !== "copy") deps.log.warn("split meeting: it runs on two servers", fields);
    if (!old || JSON.stringify(old) !== JSON.stringify(mark)) {
      await setSeen(deps.kv, c.tenant, c.meetingID, c.serverId, mark);
    }
  }
  // Copies their server no longer lists, or that became the record (switched, or adopted), are forgotten.
  for (const e of st.marks) {
    if (e.value.kind !== "copy" || found.has(seenRef(e))) continue;
    const [, tenant, meetingID, serverId] = e.key as [string, string, string, number];
    const record = st.byId.get(meetingRef(tenant, meetingID));
    if (answered.has(serverId) || record?.value.serverId === serverId) {
      await setSeen(deps.kv, tenant, meetingID, serverId, null);
      if (record) {
        deps.log.info("split meeting healed: the other copy is gone", { meetingID, server: serverId });
      }
    } else if (record) {
      splitMeetings.add(meetingRef(tenant, meetingID));
    }
  }
  st.report.splits = splitMeetings.size;
}

function seenRef(e: Deno.KvEntry<SeenRecord>): string {
  return `${meetingRef(e.key[1] as string, e.key[2] as string)}\u0000${e.key[3] as number}`;
}

function detailsOf(l: Listed) {
  return {
    internalMeetingID: l.internalMeetingID,
    createTime: l.createTime,
    attendeePW: l.attendeePW,
    moderatorPW: l.moderatorPW,
    voiceBridge: l.voiceBridge,
  };
}

function emptyLive(historyId: string): MeetingLive {
  return {
    historyId,
    participants: 0,
    listeners: 0,
    voiceParticipants: 0,
    videos: 0,
    moderators: 0,
    missed: 0,
  };
}

function sameLive(a: MeetingLive, b: MeetingLive): boolean {
  return a.historyId === b.historyId && a.participants === b.participants && a.listeners === b.listeners &&
    a.voiceParticipants === b.voiceParticipants && a.videos === b.videos && a.moderators === b.moderators &&
    a.missed === b.missed;
}

/** End a copy of a split meeting on its server (with its moderator password, which BBB 2.x still wants). */
async function endCopy(deps: PollDeps, server: ServerView, l: Listed): Promise<boolean> {
  const params: [string, string][] = [["meetingID", l.meetingID]];
  if (l.moderatorPW) params.push(["password", l.moderatorPW]);
  try {
    const answer = await callBackend(server, "end", encodeQuery(params), {
      timeoutMs: deps.backendTimeoutMs,
      fetch: deps.fetch,
    });
    return answer.response.returncode === "SUCCESS" || answer.response.messageKey === "notFound";
  } catch (e) {
    deps.log.warn("could not end a copy of a split meeting", {
      meetingID: l.meetingID,
      server: server.id,
      error: String(e),
    });
    return false;
  }
}

/** Adopt a listed meeting bbblb does not know, as `owner`'s (its tenant and its unscoped meetingID). */
async function adopt(
  deps: PollDeps,
  server: ServerView,
  l: Listed,
  owner: { tenant: string; meetingID: string },
): Promise<boolean> {
  for (let i = 0; i < 5; i++) {
    const record = await getServerEntry(deps.kv, server.id);
    if (record === null) return false; // removed meanwhile
    const adopted = await adoptMeeting(deps.kv, {
      tenant: owner.tenant,
      meetingID: owner.meetingID,
      serverId: server.id,
      details: {
        internalMeetingID: l.internalMeetingID,
        createTime: l.createTime,
        attendeePW: l.attendeePW,
        moderatorPW: l.moderatorPW,
        voiceBridge: l.voiceBridge,
      },
      loadMilli: 1000,
      serverVersionstamp: record.versionstamp,
      now: (deps.now ?? Date.now)(),
    });
    if (adopted) {
      await setSeen(deps.kv, owner.tenant, owner.meetingID, server.id, null);
      deps.log.info("meeting adopted", { meetingID: l.meetingID, server: server.id });
      return true;
    }
    if ((await getMeeting(deps.kv, owner.tenant, owner.meetingID)).versionstamp) return false; // taken
  }
  return false;
}

/** Health writes of the round; each turn is logged once, by whoever committed it (a request-path failure logs its own). */
async function writeHealth(deps: PollDeps, writes: HealthWrite[]): Promise<void> {
  const { applied, lostBatches } = await writeRoundHealth(deps.kv, writes);
  if (lostBatches > 0) deps.log.debug("health batch lost a race; the next round corrects it");
  for (const { id, from, to } of applied) {
    if (from.online && !to.online) deps.log.warn("server offline", { server: id, error: to.lastError });
    if (!from.online && to.online) deps.log.info("server online", { server: id });
  }
}

/**
 * Recompute each server's load sum from its meetings and repair it if it drifted. The loads were read before
 * the meetings, and the repair checks the load is unchanged since: any claim, removal or move in between
 * changes the load too, so the repair is skipped (and done next round) instead of applying a wrong sum.
 */
async function repairLoads(
  deps: PollDeps,
  servers: ServerView[],
  byServer: Map<number, Deno.KvEntry<MeetingRecord>[]>,
): Promise<number> {
  let repaired = 0;
  for (const s of servers) {
    const expected = (byServer.get(s.id) ?? []).reduce((n, m) => n + m.value.loadMilli, 0);
    if (expected === s.loadMilli) continue;
    if (await repairLoad(deps.kv, s.id, s.loadVersionstamp, expected)) {
      repaired++;
      deps.log.warn("load sum repaired", { server: s.id, was: s.loadMilli / 1000, now: expected / 1000 });
    }
  }
  return repaired;
}

async function fetchMeetings(deps: PollDeps, server: ServerView): Promise<PollResult> {
  const startedAt = (deps.now ?? Date.now)();
  let answer: BackendAnswer;
  try {
    answer = await callBackend(server, "getMeetings", "", {
      timeoutMs: deps.backendTimeoutMs,
      fetch: deps.fetch,
      parse: parseMeetingList,
    });
  } catch (e) {
    return { ok: false, error: e instanceof BackendError ? e.message : String(e) };
  }
  const r = answer.response;
  if (r.returncode !== "SUCCESS") {
    const why = r.messageKey === "checksumError"
      ? "the server refused bbblb's checksum: is the secret right?"
      : `getMeetings answered ${r.messageKey ?? "FAILED"}`;
    return { ok: false, error: why };
  }
  deps.onMeetingList?.(server.id, answer.text);
  const nodes: Record<string, unknown>[] = typeof r.meetings === "object" && r.meetings?.meeting
    ? r.meetings.meeting
    : [];
  const usable = (n: Record<string, unknown>) => typeof n.meetingID === "string" && n.meetingID.length <= 256;
  return { ok: true, listed: nodes.filter(usable).map(toListed), startedAt };
}

function toListed(n: Record<string, unknown>): Listed {
  // Values longer than any BBB id or password are not kept: one odd meeting must not break a round.
  const str = (v: unknown) => (typeof v === "string" && v !== "" && v.length <= 512 ? v : null);
  const num = (v: unknown) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : 0);
  return {
    meetingID: n.meetingID as string,
    internalMeetingID: str(n.internalMeetingID),
    createTime: str(n.createTime),
    moderatorPW: str(n.moderatorPW),
    attendeePW: str(n.attendeePW),
    voiceBridge: str(n.voiceBridge),
    ended: n.hasBeenForciblyEnded === "true" || num(n.endTime) > 0,
    isBreakout: n.isBreakout === "true",
    duration: num(n.duration),
    startedAt: num(n.startTime) || num(n.createTime) || null,
    participants: Math.max(0, num(n.participantCount) - countBots(n.attendees)),
    listeners: num(n.listenerCount),
    voiceParticipants: num(n.voiceParticipantCount),
    videos: num(n.videoCount),
    moderators: num(n.moderatorCount),
  };
}
