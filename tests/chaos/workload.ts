/**
 * The clients of a chaos run: front-ends and their users. Each client runs its own seeded stream of operations
 * through bbblb (create, join, end, move, getMeetingInfo, isMeetingRunning, getMeetings, a create of another
 * tenant's meetingID form) and its users leave the meetings they joined. A join follows bbblb's redirect to the
 * fake server as a browser does, and the server records the participant in the copy it landed in. Every answer
 * is judged for rule 4 (`isolation.ts`) and written to the history.
 *
 * @module
 */
import type { ActivityLog } from "./activity.ts";
import type { Belief, Beliefs } from "./beliefs.ts";
import { backendIdOf } from "./checker.ts";
import { type History, label } from "./history.ts";
import { type Answer, isolationProblem, tags } from "./isolation.ts";
import type { ClientOp } from "./schedule.ts";
import type { NoAnswer, World } from "./world.ts";

/** What clients share: the cluster, the run's records, and the hooks the run checks with. */
export interface ClientDeps {
  world: World;
  activity: ActivityLog;
  beliefs: Beliefs;
  history: History;
  /** Called after every operation (the run checks the ground truth then). */
  step(): void;
  /** A rule-4 problem found in an answer. */
  isolation(ref: string, text: string): void;
  /** Client getMeetings calls are not poll rounds (see `rounds.ts`): call before, and the result after. */
  clientListing(): () => void;
}

/** A user in a meeting, as its client remembers it. */
interface Session {
  ref: string;
  userID: string;
}

const isAnswer = (a: Answer | NoAnswer): a is Answer => !("error" in a);

/** A short summary of an answer for the history: returncode and messageKey, or the redirect target. */
function summary(world: World, a: Answer | NoAnswer): string {
  if (!isAnswer(a)) return `no answer (${a.error})`;
  if (a.status === 302 && a.location) {
    const server = world.serverOfUrl(a.location);
    return `302 to ${server === null ? new URL(a.location).host : `server ${server}`}`;
  }
  const code = tags(a.body, "returncode")[0] ?? `HTTP ${a.status}`;
  const key = tags(a.body, "messageKey")[0] || tags(a.body, "key")[0];
  return key ? `${code} ${key}` : code;
}

/** One client. */
export class Client {
  readonly #deps: ClientDeps;
  readonly #name: string;
  readonly #ops: Iterator<ClientOp>;
  readonly #sessions: Session[] = [];
  #users = 0;
  /** Operations performed. */
  operations = 0;

  constructor(deps: ClientDeps, index: number, ops: Iterator<ClientOp>) {
    this.#deps = deps;
    this.#name = `c${index}`;
    this.#ops = ops;
  }

  /** Run operations until `until` (ms since the epoch). */
  async run(until: number): Promise<void> {
    while (Date.now() < until) {
      const op = this.#ops.next().value as ClientOp;
      await new Promise((r) => setTimeout(r, Math.min(op.thinkMs, Math.max(0, until - Date.now()))));
      if (Date.now() >= until) break;
      if (await this.#perform(op)) this.operations++;
      this.#deps.step();
    }
  }

  async #perform(op: ClientOp): Promise<boolean> {
    if (op.kind === "leave") return this.#leave(op);
    const { world, activity, beliefs, history } = this.#deps;
    const ref = `${op.tenant}/${op.meetingID}`;
    const serve = await world.pickServe(op.variant);
    if (!serve) {
      history.add("op", this.#name, `${label(ref)} ${op.kind}: no serve instance is running`, {
        refs: [ref],
      });
      return false;
    }
    // Operations that may change which copies run and what bbblb records touch the meeting; joins and reads do
    // not (a join may fail a meeting over, but only from a server with a fault, which the checker waits out).
    const changes = op.kind === "create" || op.kind === "end" || op.kind === "move";
    const endTouch = changes || op.kind === "foreign"
      ? activity.begin(ref, { moving: op.kind === "move" })
      : () => {};
    const startedAt = changes ? beliefs.begin(ref) : 0;
    let outcome: Belief | null = null;
    try {
      const { call, params } = this.#request(op);
      const listed = call === "getMeetings" ? this.#deps.clientListing() : undefined;
      const answer = await world.api(serve, op.tenant, call, params);
      listed?.();
      let text = `${label(ref)} ${op.kind} via ${world.labelOf(serve)} → ${summary(world, answer)}`;
      if (isAnswer(answer)) {
        const problem = isolationProblem(
          op.kind === "foreign" ? "foreign" : call,
          op.tenant,
          op.meetingID,
          answer,
          world.tenants.filter((t) => t !== ""),
        );
        if (problem) this.#deps.isolation(ref, `${label(ref)} ${op.kind}: ${problem}`);
        if (op.kind === "join") text += await this.#land(ref, params.userID, answer);
      }
      if (changes) outcome = this.#outcome(op.kind, answer);
      history.add("op", this.#name, text, { refs: [ref], servers: this.#servers(answer) });
      return true;
    } finally {
      if (changes) beliefs.done(ref, startedAt, outcome);
      endTouch();
    }
  }

  #request(op: ClientOp): { call: string; params: Record<string, string> } {
    const meetingID = op.meetingID;
    switch (op.kind) {
      case "create":
      case "foreign":
        return {
          call: "create",
          params: { meetingID, name: `Room ${meetingID}`, ...(op.variant < 0.2 ? { load: "2" } : {}) },
        };
      case "join": {
        const userID = `${this.#name}-u${++this.#users}`;
        const params: Record<string, string> = {
          meetingID,
          fullName: userID,
          userID,
          role: op.variant < 0.3 ? "MODERATOR" : "VIEWER",
        };
        if (op.variant > 0.85) params.redirect = "false";
        return { call: "join", params };
      }
      case "end":
        return { call: "end", params: { meetingID } };
      case "move": {
        const params: Record<string, string> = { meetingID };
        if (op.variant < 0.5) {
          params.serverID = String(1 + Math.floor(op.variant * 2 * this.#deps.world.fakes.length));
        }
        return { call: "move", params };
      }
      case "info":
        return { call: "getMeetingInfo", params: { meetingID } };
      case "running":
        return { call: "isMeetingRunning", params: { meetingID } };
      case "list":
        return { call: "getMeetings", params: {} };
      case "leave":
        throw new Error("leave is not an API call");
    }
  }

  /** What an answer to create, end or move says about the meeting (null: nothing changed). */
  #outcome(kind: ClientOp["kind"], answer: Answer | NoAnswer): Belief | null {
    if (!isAnswer(answer)) return "unknown";
    const success = /<returncode>SUCCESS<\/returncode>/.test(answer.body);
    const key = tags(answer.body, "messageKey")[0];
    if (kind === "create") return success ? "running" : key === "serverUnavailable" ? "unknown" : null;
    if (kind === "end") return success || key === "notFound" ? "ended" : "unknown";
    return success ? "running" : null; // move: a failed move changes nothing
  }

  /** The servers an answer points at (a redirect's target). */
  #servers(answer: Answer | NoAnswer): number[] {
    if (!isAnswer(answer) || !answer.location) return [];
    const s = this.#deps.world.serverOfUrl(answer.location);
    return s === null ? [] : [s];
  }

  /**
   * The browser's part of a join: follow bbblb's redirect to the server (which records the participant), or,
   * for `redirect=false`, note where bbblb joined the user. Returns the text for the history.
   */
  async #land(ref: string, userID: string, answer: Answer): Promise<string> {
    const world = this.#deps.world;
    if (answer.status === 302 && answer.location) {
      const server = world.serverOfUrl(answer.location);
      if (server === null) return "; the redirect leads to no BBB server";
      try {
        const res = await fetch(answer.location, { redirect: "manual", signal: AbortSignal.timeout(5000) });
        await res.body?.cancel();
        const location = res.headers.get("location") ?? "";
        if (res.status !== 302 || !location.includes("/html5client/join")) {
          return `; server ${server} refused the join (HTTP ${res.status})`;
        }
      } catch (e) {
        return `; following it failed (${(e as Error).name})`;
      }
      this.#sessions.push({ ref, userID });
      return `; joined, ${this.#people(ref, server)} participants there`;
    }
    const url = tags(answer.body, "url")[0];
    if (!url) return "";
    const server = world.serverOfUrl(url);
    this.#sessions.push({ ref, userID });
    return `; joined on server ${server}, ${
      server === null ? 0 : this.#people(ref, server)
    } participants there`;
  }

  #people(ref: string, server: number): number {
    return this.#deps.world.fakes[server - 1].meetings.get(backendIdOf(ref))?.participants.length ?? 0;
  }

  /** A user of this client leaves the meeting they joined (closes the tab): gone from whichever copy has them. */
  #leave(op: ClientOp): boolean {
    if (this.#sessions.length === 0) return false;
    const [session] = this.#sessions.splice(Math.floor(op.variant * this.#sessions.length), 1);
    const id = backendIdOf(session.ref);
    for (const [i, fake] of this.#deps.world.fakes.entries()) {
      const m = fake.meetings.get(id);
      const at = m?.participants.findIndex((p) => p.userID === session.userID) ?? -1;
      if (!m || at < 0) continue;
      m.participants.splice(at, 1);
      this.#deps.history.add(
        "op",
        this.#name,
        `${label(session.ref)} ${session.userID} leaves server ${
          i + 1
        } (${m.participants.length} left there)`,
        { refs: [session.ref], servers: [i + 1] },
      );
      return true;
    }
    return false;
  }
}
