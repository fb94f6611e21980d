/**
 * Carries out a fault schedule (`schedule.ts`) on the cluster: server modes of the fake BBB servers, refused
 * connections, restarts that wipe, late creates, hidden meetings, participants joining and leaving directly,
 * meetings created directly on a server, the admin commands, and SIGKILL of serve. Each fault is written to the
 * history, and the server it concerns is marked unclean while it lasts (see `activity.ts`).
 *
 * @module
 */
import { listServers } from "../../src/store/servers.ts";
import type { ActivityLog } from "./activity.ts";
import type { Beliefs } from "./beliefs.ts";
import { backendIdOf, refOf } from "./checker.ts";
import { type History, label } from "./history.ts";
import type { Fault } from "./schedule.ts";
import type { World } from "./world.ts";

/** What the fault runner works with. */
export interface FaultDeps {
  world: World;
  activity: ActivityLog;
  beliefs: Beliefs;
  history: History;
  /** Called after every fault applied or ended (the run checks the ground truth then). */
  step(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a fault schedule and undoes it. */
export class FaultRunner {
  /** Faults applied (those that found something to act on). */
  faults = 0;
  readonly #deps: FaultDeps;
  /** The endings of the faults in effect. */
  readonly #active = new Set<() => Promise<void>>();
  /** Admin commands and serve starts in flight. */
  readonly #pending = new Set<Promise<unknown>>();
  /** Which serve instances should run. */
  readonly #wanted = [true, false];
  #stopped = false;

  constructor(deps: FaultDeps) {
    this.#deps = deps;
  }

  /** Apply each fault at its time (ms after `start`) until the schedule or the time (`until`) runs out. */
  async run(schedule: readonly Fault[], start: number, until: number): Promise<void> {
    for (const fault of schedule) {
      const at = start + fault.at;
      if (at >= until) break;
      await sleep(at - Date.now());
      if (this.#stopped) break;
      if (await this.#apply(fault)) this.faults++;
      this.#deps.step();
    }
  }

  /**
   * The faults stop: every fault in effect ends now, admin commands finish, the first serve instance runs and
   * the second is stopped, and every server is enabled again.
   */
  async stopAll(): Promise<void> {
    this.#stopped = true;
    for (const end of [...this.#active]) await end();
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    this.#wanted[0] = true;
    this.#wanted[1] = false;
    await this.#startServe(0);
    await this.#deps.world.stopServe(1);
    for (const s of await listServers(this.#deps.world.kv)) {
      if (s.state === "enabled") continue;
      const res = await this.#deps.world.cli(["enable", String(s.id)]);
      this.#deps.history.add("fault", "faults", `faults stop: bbblb enable ${s.id} → exit ${res.code}`, {
        servers: [s.id],
      });
    }
    this.#deps.step();
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#pending.add(work);
    return work.finally(() => this.#pending.delete(work));
  }

  /** A fault that lasts: `end` runs after `ms` (or when the faults stop), then the server is clean again. */
  #lasting(server: number | null, ms: number, end: () => Promise<void> | void): void {
    const clean = server === null ? () => {} : this.#deps.activity.fault(server);
    let done = false;
    const finish = async () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.#active.delete(finish);
      await end();
      clean();
      this.#deps.step();
    };
    const timer = setTimeout(() => this.#track(finish()), Math.max(0, ms));
    this.#active.add(finish);
  }

  #log(text: string, about: { refs?: string[]; servers?: number[] } = {}): void {
    this.#deps.history.add("fault", "faults", text, about);
  }

  /** A server restart: every meeting on it is gone. Meetings left with no copy anywhere count as ended. */
  #wipe(server: number): string[] {
    const { world, activity, beliefs } = this.#deps;
    const fake = world.fakes[server - 1];
    const refs = [...fake.meetings.keys()].map((id) => refOf(id, world.tenants.filter((t) => t !== "")));
    fake.meetings.clear();
    const left = new Set(world.copies().map((c) => c.ref));
    for (const ref of refs) {
      activity.touch(ref);
      if (!left.has(ref)) beliefs.wiped(ref);
    }
    return refs;
  }

  async #apply(f: Fault): Promise<boolean> {
    const { world, activity } = this.#deps;
    switch (f.kind) {
      case "outage": {
        const fake = world.fakes[f.server - 1];
        if (f.long) {
          // A dead server has no users: they are disconnected now.
          let gone = 0;
          for (const m of fake.meetings.values()) {
            gone += m.participants.length;
            m.participants = [];
            m.videoCount = 0;
          }
          this.#log(
            `server ${f.server} dies for ${f.durationMs} ms (${f.mode}); ${gone} participants disconnected`,
            {
              servers: [f.server],
            },
          );
        } else this.#log(`server ${f.server}: ${f.mode} for ${f.durationMs} ms`, { servers: [f.server] });
        if (f.mode === "refuse") await fake.stop();
        else fake.mode = f.mode;
        this.#lasting(f.server, f.durationMs, async () => {
          const wiped = f.wipe ? this.#wipe(f.server) : [];
          if (f.mode === "refuse") await fake.restart();
          else fake.mode = "ok";
          this.#log(
            `server ${f.server} is back${f.wipe ? `, restarted: ${wiped.length} meetings wiped` : ""}`,
            { servers: [f.server], refs: wiped },
          );
        });
        return true;
      }
      case "listFails": {
        const fake = world.fakes[f.server - 1];
        fake.callModes.getMeetings = "http500";
        this.#log(`server ${f.server}: getMeetings answers HTTP 500 for ${f.durationMs} ms`, {
          servers: [f.server],
        });
        this.#lasting(f.server, f.durationMs, () => {
          delete fake.callModes.getMeetings;
          this.#log(`server ${f.server}: getMeetings answers again`, { servers: [f.server] });
        });
        return true;
      }
      case "lateCreates": {
        const fake = world.fakes[f.server - 1];
        fake.createDelayMs = f.delayMs;
        this.#log(`server ${f.server}: creates answered ${f.delayMs} ms late, for ${f.durationMs} ms`, {
          servers: [f.server],
        });
        this.#lasting(f.server, f.durationMs, () => {
          fake.createDelayMs = 0;
          this.#log(`server ${f.server}: creates answered at once again`, { servers: [f.server] });
        });
        return true;
      }
      case "restart": {
        // A restarting server disconnects its users and loses its meetings at once; it listens again later.
        const fake = world.fakes[f.server - 1];
        await fake.stop();
        const wiped = this.#wipe(f.server);
        this.#log(`server ${f.server} restarts (down ${f.downMs} ms): ${wiped.length} meetings wiped`, {
          servers: [f.server],
          refs: wiped,
        });
        this.#lasting(f.server, f.downMs, async () => {
          await fake.restart();
          this.#log(`server ${f.server} is up again`, { servers: [f.server] });
        });
        return true;
      }
      case "hide": {
        const ref = `${f.tenant}/${f.meetingID}`;
        const id = backendIdOf(ref);
        const holders = world.fakes.flatMap((fake, i) => fake.meetings.has(id) ? [i + 1] : []);
        if (holders.length === 0) return false;
        for (const s of holders) {
          world.fakes[s - 1].hidden.add(id);
          this.#lasting(s, f.durationMs, () => {
            world.fakes[s - 1].hidden.delete(id);
            this.#log(`server ${s} lists ${label(ref)} again`, { refs: [ref], servers: [s] });
          });
        }
        this.#log(
          `servers ${holders.join(", ")} leave ${label(ref)} out of getMeetings for ${f.durationMs} ms`,
          {
            refs: [ref],
            servers: holders,
          },
        );
        return true;
      }
      case "dialIn": {
        const ref = `${f.tenant}/${f.meetingID}`;
        const copy = world.copies().find((c) => c.ref === ref && c.participants > 0);
        if (!copy) return false;
        world.fakes[copy.server - 1].addParticipant(backendIdOf(ref), { fullName: "Dial-in user" });
        this.#log(`a dial-in user joins ${label(ref)} on server ${copy.server}`, {
          refs: [ref],
          servers: [copy.server],
        });
        return true;
      }
      case "leave": {
        const ref = `${f.tenant}/${f.meetingID}`;
        const id = backendIdOf(ref);
        const people = world.fakes.flatMap((fake, i) =>
          (fake.meetings.get(id)?.participants ?? []).map((p) => ({ server: i + 1, userID: p.userID }))
        );
        if (people.length === 0) return false;
        const who = people[f.which % people.length];
        const m = world.fakes[who.server - 1].meetings.get(id)!;
        m.participants = m.participants.filter((p) => p.userID !== who.userID);
        this.#log(`${who.userID} leaves ${label(ref)} on server ${who.server}`, {
          refs: [ref],
          servers: [who.server],
        });
        return true;
      }
      case "directCreate": {
        const ref = `${f.tenant}/${f.meetingID}`;
        const fake = world.fakes[f.server - 1];
        const id = backendIdOf(ref);
        if (fake.meetings.has(id)) return false;
        fake.addMeeting(id, { meetingName: `Direct ${f.meetingID}` });
        activity.touch(ref);
        this.#log(`${label(ref)} is created directly on server ${f.server}`, {
          refs: [ref],
          servers: [f.server],
        });
        return true;
      }
      case "admin": {
        const panic = f.action === "panic";
        const refs = panic ? world.copies().filter((c) => c.server === f.server).map((c) => c.ref) : [];
        const ends = panic ? [activity.panic(f.server), ...refs.map((r) => activity.begin(r))] : [];
        this.#log(`bbblb ${f.action} ${f.server}`, { servers: [f.server], refs });
        this.#track(
          world.cli([f.action, String(f.server)]).then((res) => {
            const out = (res.stdout + res.stderr).trim().split("\n").filter((l) => l !== "");
            this.#log(
              `bbblb ${f.action} ${f.server} → exit ${res.code}${out.length ? `: ${out.join("; ")}` : ""}`,
              {
                servers: [f.server],
                refs,
              },
            );
            for (const end of ends) end();
            this.#deps.step();
          }),
        );
        return true;
      }
      case "killServe": {
        if (!(await world.killServe(f.instance))) return false;
        this.#deps.history.add(
          "serve",
          "faults",
          `SIGKILL serve ${"AB"[f.instance]}; back in ${f.downMs} ms`,
        );
        this.#track(sleep(f.downMs).then(() => this.#startServe(f.instance)));
        return true;
      }
      case "second": {
        this.#wanted[1] = f.start;
        if (f.start) {
          this.#track(this.#startServe(1));
        } else {
          await world.stopServe(1);
          this.#deps.history.add("serve", "faults", "serve B stopped (SIGTERM)");
        }
        return true;
      }
    }
  }

  /** Start serve instance `i` if it should run and does not. */
  async #startServe(i: number): Promise<void> {
    const world = this.#deps.world;
    if (!this.#wanted[i] || world.serves[i]) return;
    try {
      const serve = await world.startServe(i);
      this.#deps.activity.serveStarted();
      this.#deps.history.add("serve", "faults", `serve ${world.labelOf(serve)} started (port ${serve.port})`);
    } catch (e) {
      this.#deps.history.add("serve", "faults", `serve ${"AB"[i]} did not start: ${(e as Error).message}`);
    }
  }
}
