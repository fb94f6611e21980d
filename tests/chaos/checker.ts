/**
 * The checker of the chaos run: invariants 1 and 3 of issue 13 over the fake servers' ground truth and bbblb's
 * store (invariant 2 is probed by the run after the faults stop, invariant 4 on every answer, see
 * `isolation.ts`). Allowances are counted in poll rounds that reached the servers (`rounds.ts`), never in
 * seconds alone, so a slow machine delays a deadline instead of failing a correct bbblb.
 *
 * Words:
 * - a *copy* is one meeting held by one fake server (not ended); a meeting (a tenant's meetingID) is *split*
 *   while it has two or more copies;
 * - a copy is *created by bbblb* when its create came through bbblb: bbblb replaces the logoutURL of every create
 *   it sends with its own `rejoin` link; the harness creates its copies directly on a fake without one;
 * - a server is *clean* while no fault is active on it (outage, failing listing, late creates, hidden meetings),
 *   and a meeting is *untouched* while no create, end or move of it, and no fault concerning it (a copy created
 *   or wiped directly, a panic of its server), is in flight.
 *
 * The rules, with their allowances:
 * 1. Never two copies created by bbblb of one meeting that both have participants (copies of a meeting that a
 *    move or a panic is ending right then excepted). A split that can be healed — every server holding a copy is
 *    clean and at most one copy has participants — must be healed within {@linkcode HEAL_ROUNDS} rounds of
 *    staying so: the empty copy empty for two rounds, two rounds to end it, one to adopt an unknown copy first,
 *    and the round in progress (and as long after the last serve start, which ends nothing for two rounds).
 * 3. The load sum of every server equals the declared load of the meetings bbblb places there (read as one
 *    consistent state). A copy on a clean server, untouched, listed for {@linkcode KNOW_ROUNDS} rounds (two and
 *    the one in progress) is known to bbblb (it holds a record of that meeting). A meeting bbblb records as
 *    running on a clean server that does not hold it, untouched for `missedRounds + 2` rounds, is a ghost. A
 *    claim (a record not running) older than the longest a create may take, on a clean server, still there
 *    {@linkcode CLAIM_ROUNDS} rounds later, is stuck.
 *
 * @module
 */
import type { FakeMeeting } from "../fake_bbb.ts";
import { label } from "./history.ts";
import type { Mark } from "./rounds.ts";

/** Rounds a healable split may last (see the module doc). */
export const HEAL_ROUNDS = 6;
/** Rounds after which a running copy must be known to bbblb. */
export const KNOW_ROUNDS = 3;
/** Rounds after which a stale claim must be settled. */
export const CLAIM_ROUNDS = 3;

/** One copy of a meeting on one fake server. */
export interface Copy {
  /** Server id. */
  server: number;
  /** The meeting: `tenant/meetingID` (`""` for the default tenant). */
  ref: string;
  internalMeetingID: string;
  participants: number;
  /** Whether its create came through bbblb. */
  byBbblb: boolean;
}

/** Which rule a violation breaks. */
export type Rule =
  | "1-split-with-participants"
  | "1-split-unhealed"
  | "2-join-after-faults"
  | "3-load-sum"
  | "3-meeting-count"
  | "3-unknown-meeting"
  | "3-ghost-meeting"
  | "3-stuck-claim"
  | "4-tenant-isolation";

/** One broken rule. */
export interface Violation {
  rule: Rule;
  /** The meeting concerned, if one. */
  ref: string | null;
  servers: number[];
  text: string;
}

/** One meeting record as bbblb's store holds it. */
export interface ViewMeeting {
  ref: string;
  serverId: number;
  /** `running`, or a claim (`creating`, or what else the store calls a create not yet settled). */
  status: string;
  loadMilli: number;
  claimedAt: number;
  historyId: string;
}

/** bbblb's view: its meeting records and every server's load sum, read as one consistent state. */
export interface View {
  meetings: ViewMeeting[];
  loads: Map<number, number>;
}

/** The round clock, as the checker needs it (see `rounds.ts`). */
export interface Clock {
  mark(): Mark;
  elapsed(mark: Mark, servers: Iterable<number>, k: number): boolean;
}

/** What the run knows about its own doings. */
export interface Activity {
  /** The mark since which the server has had no fault active, or null while one is. */
  cleanSince(server: number): Mark | null;
  /** Whether a client operation or fault concerning the meeting is in flight, and when the last began or ended. */
  touched(ref: string): { busy: boolean; last: Mark | null };
  /** Whether the copy of the meeting on this server is being ended on purpose (a move or a panic in flight). */
  leaving(ref: string, server: number): boolean;
  /** The mark of the last start of a serve instance. */
  lastServeStart(): Mark;
}

/** Settings of the checker. */
export interface CheckerOptions {
  /** `--missed-rounds` of serve. */
  missedRounds: number;
  /** The longest a create may take (ms); a claim older than that is stale. */
  claimLimitMs: number;
}

/** The meeting ref of a meetingID as a server knows it (`law~room-1` is tenant law's `room-1`). */
export function refOf(backendID: string, tenants: readonly string[]): string {
  const at = backendID.indexOf("~");
  if (at > 0 && tenants.includes(backendID.slice(0, at))) {
    return `${backendID.slice(0, at)}/${backendID.slice(at + 1)}`;
  }
  return `/${backendID}`;
}

/** The meetingID a server knows a tenant's meeting by. */
export function backendIdOf(ref: string): string {
  const at = ref.indexOf("/");
  return at === 0 ? ref.slice(1) : `${ref.slice(0, at)}~${ref.slice(at + 1)}`;
}

/** Whether a copy's create came through bbblb: bbblb puts its own `rejoin` link in every create it sends. */
export function createdByBbblb(m: Pick<FakeMeeting, "createParams">): boolean {
  return m.createParams.get("logoutURL")?.includes("/bigbluebutton/api/rejoin?") ?? false;
}

/** The ground truth: every copy on every fake (server ids 1..n, in order). */
export function copiesOf(
  fakes: readonly { meetings: Map<string, FakeMeeting> }[],
  tenants: readonly string[],
): Copy[] {
  const copies: Copy[] = [];
  fakes.forEach((fake, i) => {
    for (const m of fake.meetings.values()) {
      if (m.ended || m.isBreakout) continue;
      copies.push({
        server: i + 1,
        ref: refOf(m.meetingID, tenants),
        internalMeetingID: m.internalMeetingID,
        participants: m.participants.length,
        byBbblb: createdByBbblb(m),
      });
    }
  });
  return copies;
}

const copyKey = (c: Copy) => `${c.server}:${c.internalMeetingID}`;

/** Checks the rules; keeps what it needs between checks (splits seen, when copies and claims appeared). */
export class Checker {
  /** Every distinct violation so far (one per rule and meeting). */
  readonly violations: Violation[] = [];
  readonly #clock: Clock;
  readonly #activity: Activity;
  readonly #options: CheckerOptions;
  readonly #seen = new Set<string>();
  /** When each copy was first seen. */
  readonly #copySeen = new Map<string, Mark>();
  /** Healable splits: since when, and in which shape (any change restarts the count). */
  readonly #splits = new Map<string, { since: Mark; shape: string }>();
  /** When each record was first seen, and when each stale claim was first seen stale, by historyId. */
  readonly #recordSeen = new Map<string, Mark>();
  readonly #staleSeen = new Map<string, Mark>();

  constructor(clock: Clock, activity: Activity, options: CheckerOptions) {
    this.#clock = clock;
    this.#activity = activity;
    this.#options = options;
  }

  /** Record a violation; returns it when it is new (first of its rule for its meeting), else null. */
  report(v: Violation): Violation | null {
    const id = `${v.rule} ${v.ref ?? v.servers.join(",")}`;
    if (this.#seen.has(id)) return null;
    this.#seen.add(id);
    this.violations.push(v);
    return v;
  }

  /** Rule 1 on the ground truth. Returns the new violations. */
  checkTruth(copies: readonly Copy[]): Violation[] {
    const found: Violation[] = [];
    const now = this.#clock.mark();
    const present = new Set(copies.map(copyKey));
    for (const c of copies) if (!this.#copySeen.has(copyKey(c))) this.#copySeen.set(copyKey(c), now);
    for (const k of this.#copySeen.keys()) if (!present.has(k)) this.#copySeen.delete(k);

    const byRef = Map.groupBy(copies, (c) => c.ref);
    for (const ref of this.#splits.keys()) if ((byRef.get(ref)?.length ?? 0) < 2) this.#splits.delete(ref);
    for (const [ref, cs] of byRef) {
      if (cs.length < 2) continue;
      const servers = cs.map((c) => c.server);
      const withPeople = cs.filter((c) => c.participants > 0);
      const split = withPeople.filter((c) => c.byBbblb && !this.#activity.leaving(ref, c.server));
      if (split.length >= 2) {
        const v = this.report({
          rule: "1-split-with-participants",
          ref,
          servers: split.map((c) => c.server),
          text: `${label(ref)} has participants in two copies created by bbblb: ${
            split.map((c) => `server ${c.server} (${c.participants})`).join(", ")
          }`,
        });
        if (v) found.push(v);
      }
      const healable = withPeople.length <= 1 && servers.every((s) => this.#activity.cleanSince(s) !== null);
      if (!healable) {
        this.#splits.delete(ref);
        continue;
      }
      const shape = cs.map((c) => `${copyKey(c)}:${c.participants > 0}`).sort().join(" ");
      const state = this.#splits.get(ref);
      if (!state || state.shape !== shape) {
        this.#splits.set(ref, { since: now, shape });
        continue;
      }
      if (
        this.#clock.elapsed(state.since, servers, HEAL_ROUNDS) &&
        this.#clock.elapsed(this.#activity.lastServeStart(), servers, HEAL_ROUNDS)
      ) {
        const v = this.report({
          rule: "1-split-unhealed",
          ref,
          servers,
          text: `${label(ref)} runs on servers ${servers.join(" and ")} (participants ${
            cs.map((c) => c.participants).join("/")
          }), healable and unhealed for ${HEAL_ROUNDS} rounds`,
        });
        if (v) found.push(v);
      }
    }
    return found;
  }

  /**
   * Rule 3: reads the ground truth, then bbblb's view, then the ground truth again; judges only what held
   * before and after the view was read, for meetings no operation touched meanwhile. Returns the new
   * violations.
   */
  async checkView(truth: () => Copy[], readView: () => Promise<View | null>): Promise<Violation[]> {
    const startedAt = Date.now();
    const before = truth();
    const view = await readView();
    if (!view) return []; // no consistent read this time
    const after = truth();
    const found: Violation[] = [];
    const add = (v: Violation) => {
      const added = this.report(v);
      if (added) found.push(added);
    };
    const now = this.#clock.mark();
    // Clean for k rounds, and untouched for k rounds (no operation began or ended since before the first read).
    const settled = (ref: string, server: number, k: number) => {
      const clean = this.#activity.cleanSince(server);
      const t = this.#activity.touched(ref);
      if (!clean || t.busy || !this.#clock.elapsed(clean, [server], k)) return false;
      return t.last === null || (t.last.at < startedAt && this.#clock.elapsed(t.last, [server], k));
    };

    // Load sums.
    const sums = new Map<number, number>();
    for (const m of view.meetings) sums.set(m.serverId, (sums.get(m.serverId) ?? 0) + m.loadMilli);
    for (const [server, load] of view.loads) {
      if (load !== (sums.get(server) ?? 0)) {
        add({
          rule: "3-load-sum",
          ref: null,
          servers: [server],
          text: `server ${server}: load sum ${load / 1000} but its meetings declare ${
            (sums.get(server) ?? 0) / 1000
          }`,
        });
      }
    }

    // Running copies bbblb does not know.
    const records = Map.groupBy(view.meetings, (m) => m.ref);
    const afterKeys = new Set(after.map(copyKey));
    for (const c of before) {
      if (!afterKeys.has(copyKey(c)) || records.has(c.ref)) continue;
      const seen = this.#copySeen.get(copyKey(c));
      if (!seen || !this.#clock.elapsed(seen, [c.server], KNOW_ROUNDS)) continue;
      if (!settled(c.ref, c.server, KNOW_ROUNDS)) continue;
      add({
        rule: "3-unknown-meeting",
        ref: c.ref,
        servers: [c.server],
        text:
          `${label(c.ref)} runs on server ${c.server} (${c.participants} participants) for ${KNOW_ROUNDS} ` +
          "rounds and bbblb has no record of it",
      });
    }

    // Records of meetings their server does not hold; claims that stay.
    const held = new Set([...before, ...after].map((c) => `${c.server} ${c.ref}`));
    const ids = new Set(view.meetings.map((m) => m.historyId));
    for (const k of this.#recordSeen.keys()) if (!ids.has(k)) this.#recordSeen.delete(k);
    for (const k of this.#staleSeen.keys()) if (!ids.has(k)) this.#staleSeen.delete(k);
    for (const m of view.meetings) {
      if (!this.#recordSeen.has(m.historyId)) this.#recordSeen.set(m.historyId, now);
      const since = this.#recordSeen.get(m.historyId)!;
      if (m.status === "running") {
        const rounds = this.#options.missedRounds + 2;
        if (held.has(`${m.serverId} ${m.ref}`) || !this.#clock.elapsed(since, [m.serverId], rounds)) continue;
        if (!settled(m.ref, m.serverId, rounds)) continue;
        add({
          rule: "3-ghost-meeting",
          ref: m.ref,
          servers: [m.serverId],
          text: `bbblb records ${label(m.ref)} as running on server ${m.serverId}, which has not held it ` +
            `for ${rounds} rounds`,
        });
        continue;
      }
      if (Date.now() - m.claimedAt <= this.#options.claimLimitMs) continue;
      if (!this.#staleSeen.has(m.historyId)) this.#staleSeen.set(m.historyId, now);
      const stale = this.#staleSeen.get(m.historyId)!;
      const clean = this.#activity.cleanSince(m.serverId);
      if (
        clean && this.#clock.elapsed(stale, [m.serverId], CLAIM_ROUNDS) &&
        this.#clock.elapsed(clean, [m.serverId], CLAIM_ROUNDS)
      ) {
        add({
          rule: "3-stuck-claim",
          ref: m.ref,
          servers: [m.serverId],
          text: `the claim of ${label(m.ref)} on server ${m.serverId} (${m.status}) is ${
            Math.round((Date.now() - m.claimedAt) / 1000)
          } s old and not settled`,
        });
      }
    }
    return found;
  }
}
