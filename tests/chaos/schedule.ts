/**
 * What a chaos run does, decided up front from its seed: each client's stream of operations and the fault
 * schedule. Both are pure functions of the seed (and the run's length and settings), so `CHAOS_SEED` replays
 * the same inputs; what bbblb answers may still differ with timing.
 *
 * The fault schedule keeps to the limits of the one-room model (issue 12), so that a violation is bbblb's and
 * not the schedule's:
 * - a server has at most one server-wide fault at a time, and at least {@linkcode SERVER_GAP_MS} between two, so
 *   a streak of failures never spans two faults;
 * - an outage of all calls is either *short* (its failure streak cannot reach the failover delay, so no failover
 *   may happen) or *long* (longer than the failover delay plus margins): a long outage is a dead server, whose
 *   users are disconnected at its start; it comes back with its meetings empty, or restarts and wipes them. A
 *   server that bbblb cannot reach while its users stay in its meetings for longer than the failover delay is a
 *   partition that no load balancer can keep in one room, and is not injected;
 * - at most two servers are down (an outage or a restart) at the same time.
 *
 * @module
 */
import { Prng } from "./prng.ts";

/** The cluster a run works on. */
export interface Universe {
  /** Number of fake BBB servers; their ids are 1..servers. */
  servers: number;
  /** Tenants, `""` for the default tenant. */
  tenants: readonly string[];
  /** The meetingIDs every tenant uses (the same IDs in every tenant, again and again). */
  meetingIDs: readonly string[];
  /** Number of concurrent clients. */
  clients: number;
}

/** The settings of `serve` the schedule must respect, in ms. */
export interface Timing {
  pollMs: number;
  backendTimeoutMs: number;
  failoverDelayMs: number;
  createTimeoutMs: number;
}

/** What a client does. */
export type OpKind =
  | "create"
  | "join"
  | "end"
  | "move"
  | "info"
  | "running"
  | "list"
  | "leave"
  | "foreign";

/** One client operation. */
export interface ClientOp {
  kind: OpKind;
  /** Tenant (`""`: default). */
  tenant: string;
  /** The tenant's own meetingID. */
  meetingID: string;
  /** Pause before the operation, in ms. */
  thinkMs: number;
  /** A number in [0, 1) for the operation's own choices (role, target server, which instance). */
  variant: number;
}

/** How a server fails during an outage. */
export type OutageMode = "http500" | "hang" | "reset" | "garbage" | "refuse";

/** One fault, at `at` ms after the start of the run. */
export type Fault =
  & { at: number }
  & (
    /** Every call fails this way; `long`: longer than the failover delay (a dead server, see the module doc). */
    | { kind: "outage"; server: number; mode: OutageMode; durationMs: number; long: boolean; wipe: boolean }
    /** Only getMeetings answers HTTP 500 (the meetings themselves keep working): issue 12's first reproducer. */
    | { kind: "listFails"; server: number; durationMs: number }
    /** Creates are performed at once and answered `delayMs` later: issue 12's second reproducer. */
    | { kind: "lateCreates"; server: number; delayMs: number; durationMs: number }
    /** The server restarts: its meetings are gone at once, connections are refused for `downMs`. */
    | { kind: "restart"; server: number; downMs: number }
    /** getMeetings leaves the meeting out (wherever it runs) for a while, though it runs. */
    | { kind: "hide"; tenant: string; meetingID: string; durationMs: number }
    /** Someone joins a copy of the meeting that has participants, directly on its server (a dial-in). */
    | { kind: "dialIn"; tenant: string; meetingID: string }
    /** A participant leaves a copy of the meeting. */
    | { kind: "leave"; tenant: string; meetingID: string; which: number }
    /** The meeting is created directly on a server, not through bbblb. */
    | { kind: "directCreate"; server: number; tenant: string; meetingID: string }
    /** `bbblb disable|cordon|panic|enable ID`. */
    | { kind: "admin"; server: number; action: "disable" | "cordon" | "panic" | "enable" }
    /** SIGKILL of a serve instance (0: the first, 1: the second), started again after `downMs`. */
    | { kind: "killServe"; instance: 0 | 1; downMs: number }
    /** The second serve instance starts or stops (SIGTERM). */
    | { kind: "second"; start: boolean }
  );

/** Least time between two server-wide faults on one server, in ms (several good poll rounds). */
export const SERVER_GAP_MS = 5000;

/**
 * The longest short outage: its failure streak (the outage, then at most a poll interval and a round that waits a
 * backend timeout until the next good answer) stays 3 s below the failover delay, a margin for a slow machine.
 */
export function shortOutageMaxMs(t: Timing): number {
  return t.failoverDelayMs - t.pollMs - t.backendTimeoutMs - 3000;
}

/**
 * A client's operations, endless and determined by `seed` and the client's number.
 */
export function* clientOps(seed: number, client: number, u: Universe): Generator<ClientOp> {
  const rng = Prng.stream(seed, `client-${client}`);
  const weights: Record<OpKind, number> = {
    create: 24,
    join: 34,
    end: 7,
    move: 4,
    info: 9,
    running: 6,
    list: 3,
    leave: 10,
    foreign: 3,
  };
  for (;;) {
    const kind = rng.weighted(weights);
    const tenant = kind === "foreign" ? "" : rng.pick(u.tenants);
    const meetingID = kind === "foreign"
      ? `${rng.pick(u.tenants.filter((t) => t !== ""))}~${rng.pick(u.meetingIDs)}`
      : rng.pick(u.meetingIDs);
    yield { kind, tenant, meetingID, thinkMs: rng.int(150, 900), variant: rng.next() };
  }
}

/**
 * The fault schedule of a run whose faults last `faultMs`: events in time order (see the module doc for the
 * limits it keeps).
 *
 * @throws {Error} when the timing leaves no room for short outages (failover delay too small)
 */
export function planFaults(seed: number, faultMs: number, u: Universe, t: Timing): Fault[] {
  const shortMax = shortOutageMaxMs(t);
  if (shortMax < 1000) throw new Error(`the failover delay ${t.failoverDelayMs} ms leaves no short outages`);
  const rng = Prng.stream(seed, "faults");
  const faults: Fault[] = [
    { at: Math.round(faultMs * 0.15), kind: "second", start: true },
    { at: Math.round(faultMs * 0.65), kind: "second", start: false },
  ];
  const busyUntil = new Array<number>(u.servers + 1).fill(0);
  const downUntil: number[] = [];
  const hiddenUntil = new Map<string, number>();
  let serveDownUntil = 0;
  const weights = {
    outage: 22,
    longOutage: 5,
    listFails: 10,
    lateCreates: 7,
    restart: 4,
    hide: 8,
    dialIn: 10,
    leave: 8,
    directCreate: 6,
    admin: 5,
    killServe: 2,
  };
  const modes: OutageMode[] = ["http500", "hang", "reset", "garbage", "refuse"];
  let at = 1000;
  for (;;) {
    at += Math.round(rng.exponential(1500));
    if (at >= faultMs) break;
    const kind = rng.weighted(weights);
    const tenant = rng.pick(u.tenants);
    const meetingID = rng.pick(u.meetingIDs);
    const serverWide = ["outage", "longOutage", "listFails", "lateCreates", "restart"].includes(kind);
    // A server-wide fault goes to a server that has none (and, for a server going down, while at most one
    // other is down).
    const down = ["outage", "longOutage", "restart"].includes(kind);
    const free = Array.from({ length: u.servers }, (_, i) => i + 1).filter((id) => busyUntil[id] <= at);
    if (down && downUntil.filter((until) => until > at).length >= 2) continue;
    if (serverWide && free.length === 0) continue;
    const server = serverWide ? rng.pick(free) : rng.int(1, u.servers);
    let durationMs = 0;
    switch (kind) {
      case "outage":
      case "longOutage": {
        const long = kind === "longOutage";
        durationMs = long
          ? rng.int(t.failoverDelayMs + 3000, t.failoverDelayMs + 8000)
          : rng.int(500, shortMax);
        faults.push({
          at,
          kind: "outage",
          server,
          mode: rng.pick(modes),
          durationMs,
          long,
          wipe: long && rng.chance(0.5),
        });
        break;
      }
      case "listFails":
        durationMs = rng.int(1000, 12_000);
        faults.push({ at, kind, server, durationMs });
        break;
      case "lateCreates":
        durationMs = rng.int(5000, 15_000);
        faults.push({ at, kind, server, durationMs, delayMs: rng.int(1000, 2 * t.createTimeoutMs + 1000) });
        break;
      case "restart":
        durationMs = rng.int(300, 3000);
        faults.push({ at, kind, server, downMs: durationMs });
        break;
      case "hide": {
        const ref = `${tenant}/${meetingID}`;
        if ((hiddenUntil.get(ref) ?? 0) > at) continue;
        const hideMs = rng.int(2000, 20_000);
        hiddenUntil.set(ref, at + hideMs);
        faults.push({ at, kind, tenant, meetingID, durationMs: hideMs });
        break;
      }
      case "dialIn":
        faults.push({ at, kind, tenant, meetingID });
        break;
      case "leave":
        faults.push({ at, kind, tenant, meetingID, which: rng.int(0, 1000) });
        break;
      case "directCreate":
        faults.push({ at, kind, server, tenant, meetingID });
        break;
      case "admin":
        faults.push({
          at,
          kind,
          server,
          action: rng.weighted({ disable: 3, cordon: 2, panic: 1, enable: 4 }),
        });
        break;
      case "killServe": {
        if (serveDownUntil > at) continue;
        const downMs = rng.int(500, 3000);
        serveDownUntil = at + downMs + 5000;
        // The second instance runs between 15% and 65% of the run.
        const coin = rng.chance(0.5); // drawn always, so a longer run replays a shorter one
        const second = coin && at > faultMs * 0.15 && at < faultMs * 0.65;
        faults.push({ at, kind, instance: second ? 1 : 0, downMs });
        break;
      }
    }
    if (serverWide) busyUntil[server] = at + durationMs + SERVER_GAP_MS;
    if (down) downUntil.push(at + durationMs);
  }
  return faults.sort((a, b) => a.at - b.at);
}
