/**
 * Benchmark section (g) of `deno task bench`: the one-room model at serve's default settings (poll interval
 * 10 s, backend timeout 5 s, fail threshold 2, and issue 12's failover delay, create timeout and missed rounds
 * left to their defaults), with the pieces of the chaos run (`tests/chaos/world.ts`): fake BBB servers in this
 * process, `./bbblb serve` as a process.
 *
 * - how long after a server dies (connections refused, its users gone) joins of its meetings land on a live
 *   server (the failover delay, as users feel it);
 * - how many meetings a 20 s hiccup of one server splits (every call answers HTTP 500 while its users stay, and
 *   joins keep coming during it and for three poll intervals after it): the goal is 0, a hiccup shorter than
 *   the failover delay must not move anybody.
 *
 * @module
 */
import { copiesOf } from "../tests/chaos/checker.ts";
import type { ServeProcess } from "../tests/bbblb_process.ts";
import { World } from "../tests/chaos/world.ts";

const DEFAULTS = { pollMs: 10_000, backendTimeoutMs: 5000, failThreshold: 2 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Join through bbblb as a browser does; the server id the user landed on, or null. */
async function join(world: World, serve: ServeProcess, meetingID: string, userID: string) {
  const answer = await world.api(serve, "", "join", { meetingID, fullName: userID, userID, role: "VIEWER" });
  if ("error" in answer || answer.status !== 302 || !answer.location) return null;
  const server = world.serverOfUrl(answer.location);
  try {
    const res = await fetch(answer.location, { redirect: "manual", signal: AbortSignal.timeout(5000) });
    await res.body?.cancel();
    return res.status === 302 ? server : null;
  } catch {
    return null;
  }
}

async function create(world: World, serve: ServeProcess, meetingID: string): Promise<void> {
  const answer = await world.api(serve, "", "create", { meetingID, name: meetingID });
  if ("error" in answer || !answer.body.includes("SUCCESS")) throw new Error(`create ${meetingID} failed`);
}

async function cluster(dir: string, servers: number): Promise<{ world: World; serve: ServeProcess }> {
  const world = await World.create(dir, servers, [""], DEFAULTS);
  return { world, serve: await world.startServe(0) };
}

/**
 * A meeting with three users; its server dies (users disconnected, connections refused). Returns the ms from the
 * death until a join (tried every second) lands on a live server, or null when none did within `limitMs`.
 */
export async function failoverTime(dir: string, limitMs = 180_000): Promise<number | null> {
  const { world, serve } = await cluster(dir, 3);
  try {
    await create(world, serve, "lecture");
    for (let i = 0; i < 3; i++) await join(world, serve, "lecture", `user-${i}`);
    const holder = world.fakes.findIndex((f) => f.meetings.has("lecture")) + 1;
    const dead = world.fakes[holder - 1];
    dead.meetings.get("lecture")!.participants = [];
    await dead.stop();
    const died = Date.now();
    for (let n = 0; Date.now() - died < limitMs; n++) {
      const landed = await join(world, serve, "lecture", `late-${n}`);
      if (landed !== null && landed !== holder) return Date.now() - died;
      await sleep(1000);
    }
    return null;
  } finally {
    await world.close();
  }
}

/**
 * Six meetings with two users each over three servers; the server with the most meetings answers every call
 * with HTTP 500 for `hiccupMs` while its users stay; one join per second keeps coming to the meetings during the
 * hiccup and for three poll intervals after it. Returns the meetings that ended up with users in two copies, and the meetings
 * that run on two servers at all.
 */
export async function hiccupSplits(
  dir: string,
  hiccupMs = 20_000,
): Promise<{ split: number; copies: number }> {
  const { world, serve } = await cluster(dir, 3);
  try {
    const ids = Array.from({ length: 6 }, (_, i) => `room-${i + 1}`);
    for (const id of ids) {
      await create(world, serve, id);
      for (let u = 0; u < 2; u++) await join(world, serve, id, `${id}-user-${u}`);
    }
    const count = (i: number) => [...world.fakes[i].meetings.keys()].length;
    const victim = world.fakes.reduce((best, _, i) => count(i) > count(best) ? i : best, 0);
    world.fakes[victim].mode = "http500";
    const start = Date.now();
    let recovered = false;
    // Joins keep coming during the hiccup and for three poll intervals after it.
    for (let n = 0; Date.now() - start < hiccupMs + 3 * DEFAULTS.pollMs; n++) {
      if (!recovered && Date.now() - start >= hiccupMs) {
        world.fakes[victim].mode = "ok";
        recovered = true;
      }
      await join(world, serve, ids[n % ids.length], `during-${n}`);
      await sleep(1000);
    }
    const copies = copiesOf(world.fakes, []);
    const per = (pred: (c: (typeof copies)[number]) => boolean) =>
      ids.filter((id) => copies.filter((c) => c.ref === `/${id}` && pred(c)).length > 1).length;
    return { split: per((c) => c.participants > 0), copies: per(() => true) };
  } finally {
    await world.close();
  }
}
