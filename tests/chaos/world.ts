/**
 * The cluster of a chaos run: fake BBB servers on real sockets, a KV file with them and the tenants registered,
 * `./bbblb serve` processes on it (a first instance, and a second one for part of the run), signed API calls as
 * a tenant's front-end makes them, the admin command line, and reads of bbblb's store for the checker.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { listAllMeetings } from "../../src/store/meetings.ts";
import { listServers } from "../../src/store/servers.ts";
import { addTenant, emptyTenant } from "../../src/store/tenants.ts";
import { type CliResult, runBbblb, type ServeProcess, startServe, storeWithFakes } from "../bbblb_process.ts";
import { FakeBbb } from "../fake_bbb.ts";
import { copiesOf, type Copy, type View } from "./checker.ts";
import type { Answer } from "./isolation.ts";

/** The settings `serve` runs with; the issue-12 settings are left to serve's defaults when absent. */
export interface ServeSettings {
  pollMs: number;
  backendTimeoutMs: number;
  failThreshold: number;
  /** `BBBLB_FAILOVER_DELAY` (issue 12). */
  failoverDelayMs?: number;
  /** `BBBLB_CREATE_TIMEOUT` (issue 12). */
  createTimeoutMs?: number;
  /** `BBBLB_MISSED_ROUNDS` (issue 12). */
  missedRounds?: number;
}

/** The default tenant's API secret in a chaos run. */
const SECRET = "chaos-api-secret-0123456789";

/** How long a client waits for bbblb's answer, in ms (above serve's 30 s request timeout). */
const CLIENT_TIMEOUT_MS = 40_000;

/** A failed call: the connection broke or timed out before bbblb answered. */
export interface NoAnswer {
  error: string;
}

/** The cluster of one run. */
export class World {
  readonly fakes: FakeBbb[];
  readonly tenants: readonly string[];
  readonly dir: string;
  readonly kvPath: string;
  readonly kv: Deno.Kv;
  readonly settings: ServeSettings;
  /** The serve instances (0: first, 1: second); null while not running. */
  readonly serves: (ServeProcess | null)[] = [null, null];
  /** Every serve process ever started, with its label, for the logs. */
  readonly started: { label: string; serve: ServeProcess }[] = [];
  readonly #secrets: Map<string, string>;
  readonly #starting = new Map<number, Promise<ServeProcess>>();

  private constructor(
    fakes: FakeBbb[],
    tenants: readonly string[],
    dir: string,
    kv: Deno.Kv,
    settings: ServeSettings,
  ) {
    this.fakes = fakes;
    this.tenants = tenants;
    this.dir = dir;
    this.kvPath = `${dir}/bbblb.kv`;
    this.kv = kv;
    this.settings = settings;
    this.#secrets = new Map(tenants.map((t) => [t, t === "" ? SECRET : `chaos-${t}-secret-0123456789`]));
  }

  /**
   * Start `servers` fakes, register them and the tenants in a new KV file under `dir`.
   *
   * @param tenants tenant names, `""` for the default tenant
   */
  static async create(
    dir: string,
    servers: number,
    tenants: readonly string[],
    settings: ServeSettings,
  ): Promise<World> {
    const fakes = await Promise.all(
      Array.from({ length: servers }, (_, i) => FakeBbb.start({ secret: `chaos-fake-secret-${i + 1}` })),
    );
    const kv = await storeWithFakes(`${dir}/bbblb.kv`, fakes);
    const world = new World(fakes, tenants, dir, kv, settings);
    for (const t of tenants) {
      if (t !== "") await addTenant(kv, { ...emptyTenant(t), secrets: [world.#secrets.get(t)!] });
    }
    return world;
  }

  /** The environment of serve and the admin commands: the backend timeout and the issue-12 settings given. */
  env(): Record<string, string> {
    const s = this.settings;
    const env: Record<string, string> = { BBBLB_BACKEND_TIMEOUT: String(s.backendTimeoutMs / 1000) };
    if (s.failoverDelayMs !== undefined) env.BBBLB_FAILOVER_DELAY = String(s.failoverDelayMs / 1000);
    if (s.createTimeoutMs !== undefined) env.BBBLB_CREATE_TIMEOUT = String(s.createTimeoutMs / 1000);
    if (s.missedRounds !== undefined) env.BBBLB_MISSED_ROUNDS = String(s.missedRounds);
    return env;
  }

  /** Start serve instance `i` (if it is not running or starting) and wait until it answers. */
  startServe(i: number): Promise<ServeProcess> {
    const running = this.serves[i];
    if (running) return Promise.resolve(running);
    let starting = this.#starting.get(i);
    if (!starting) {
      starting = this.#spawn(i).finally(() => this.#starting.delete(i));
      this.#starting.set(i, starting);
    }
    return starting;
  }

  async #spawn(i: number): Promise<ServeProcess> {
    const s = this.settings;
    const serve = await startServe({
      kv: this.kvPath,
      secret: SECRET,
      args: [
        "--poll-interval",
        String(s.pollMs / 1000),
        "--fail-threshold",
        String(s.failThreshold),
        "--recover-threshold",
        "2",
      ],
      env: this.env(),
      readyTimeoutMs: 60_000,
    });
    this.serves[i] = serve;
    const name = "AB"[i];
    this.started.push({
      label: `${name}${this.started.filter((x) => x.label[0] === name).length + 1}`,
      serve,
    });
    return serve;
  }

  /** SIGKILL serve instance `i`; false when it was not running. */
  async killServe(i: number): Promise<boolean> {
    const serve = this.serves[i];
    if (!serve) return false;
    this.serves[i] = null;
    try {
      serve.child.kill("SIGKILL");
    } catch {
      // gone already
    }
    await serve.finished;
    return true;
  }

  /** Stop serve instance `i` with SIGTERM (SIGKILL after 5 s). */
  async stopServe(i: number): Promise<void> {
    const serve = this.serves[i];
    if (!serve) return;
    this.serves[i] = null;
    await serve.kill();
  }

  /** The label of a running instance (`A`, `B`). */
  labelOf(serve: ServeProcess): string {
    return this.started.find((x) => x.serve === serve)?.label ?? "?";
  }

  /** A running instance, chosen by `variant` in [0, 1); waits up to 15 s for one. */
  async pickServe(variant: number): Promise<ServeProcess | null> {
    for (let waited = 0; waited < 15_000; waited += 100) {
      const live = this.serves.filter((s): s is ServeProcess => s !== null);
      if (live.length > 0) return live[Math.floor(variant * live.length)];
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }

  /** The API secret of a tenant. */
  secretOf(tenant: string): string {
    return this.#secrets.get(tenant)!;
  }

  /** A signed call of `tenant`'s front-end to a serve instance; redirects are not followed. */
  async api(
    serve: ServeProcess,
    tenant: string,
    call: string,
    params: Record<string, string>,
  ): Promise<Answer | NoAnswer> {
    const query = new URLSearchParams(params).toString();
    const checksum = createHash("sha256").update(call + query + this.secretOf(tenant)).digest("hex");
    const url = `${serve.url}api/${call}?${query}${query ? "&" : ""}checksum=${checksum}`;
    try {
      const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
      return { status: res.status, location: res.headers.get("location"), body: await res.text() };
    } catch (e) {
      return { error: e instanceof Error ? e.name === "TimeoutError" ? "timed out" : e.message : String(e) };
    }
  }

  /** The server id of a URL on one of the fakes, or null. */
  serverOfUrl(url: string): number | null {
    const port = Number(new URL(url).port);
    const i = this.fakes.findIndex((f) => f.port === port);
    return i < 0 ? null : i + 1;
  }

  /** The ground truth: every copy on every fake. */
  copies(): Copy[] {
    return copiesOf(this.fakes, this.tenants.filter((t) => t !== ""));
  }

  /** `./bbblb ARGS --kv <this store>` with the run's settings in the environment. */
  async cli(args: string[]): Promise<CliResult> {
    return await runBbblb([...args, "--kv", this.kvPath], { env: this.env() });
  }

  /**
   * bbblb's view for the checker: its meeting records and load sums, read so that no meeting was placed or
   * removed in between (the load sums were the same before and after the meetings were read); null when the
   * store kept changing.
   */
  async view(): Promise<View | null> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const first = await listServers(this.kv);
      const meetings = await listAllMeetings(this.kv);
      const second = await listServers(this.kv);
      const stamp = (xs: typeof first) => xs.map((s) => `${s.id}:${s.loadVersionstamp}`).join(" ");
      if (stamp(first) !== stamp(second)) continue;
      return {
        meetings: meetings.map(({ value: m }) => ({
          ref: `${m.tenant}/${m.meetingID}`,
          serverId: m.serverId,
          status: m.status,
          loadMilli: m.loadMilli,
          claimedAt: m.claimedAt,
          historyId: m.historyId,
        })),
        loads: new Map(second.map((s) => [s.id, s.loadMilli])),
      };
    }
    return null;
  }

  /** Stop everything; the directory is left to the caller. */
  async close(): Promise<void> {
    await Promise.all([this.stopServe(0), this.stopServe(1)]);
    await Promise.all(this.fakes.map((f) => f.close()));
    this.kv.close();
  }
}
