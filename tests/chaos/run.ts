/**
 * `deno task chaos`: a seeded fault-injection run against `./bbblb serve` (issue 13, Jepsen's method). Five fake
 * BBB servers, three tenants sharing five meetingIDs, four concurrent clients (`workload.ts`), a fault schedule
 * (`schedule.ts`, `faults.ts`) and a checker on the fakes' ground truth (`checker.ts`, `isolation.ts`) that runs
 * after every operation and fault. At the end the faults stop, and after the failover delay and three poll
 * intervals every meeting the clients believe running is joined once (rule 2); after six more rounds the
 * cluster must have converged (`bbblb list-servers --json` against the fakes).
 *
 * `CHAOS_SEED` (default: random) replays a run's inputs, `CHAOS_SECONDS` (default 600) sets its length, the last
 * 20 s of which are the quiet phase. The last line is always `chaos: N operations, F faults, V violations`; a
 * violation makes the exit status 1 and prints the seed and the history that led to it (the whole history and
 * the serve logs are kept in a directory it names).
 *
 * @module
 */
import { ActivityLog } from "./activity.ts";
import { Beliefs } from "./beliefs.ts";
import { Checker, refOf, type Violation } from "./checker.ts";
import { FaultRunner } from "./faults.ts";
import { History, label } from "./history.ts";
import { isolationProblem, tags } from "./isolation.ts";
import { RoundClock } from "./rounds.ts";
import { clientOps, planFaults, type Timing, type Universe } from "./schedule.ts";
import { Client } from "./workload.ts";
import { type ServeSettings, World } from "./world.ts";

/** The cluster of every run. */
export const UNIVERSE: Universe = {
  servers: 5,
  tenants: ["", "law", "med"],
  meetingIDs: ["room-1", "room-2", "room-3", "room-4", "room-5"],
  clients: 4,
};

/** The settings serve runs with: a short poll interval and issue 12's settings scaled down to it. */
export const SETTINGS: ServeSettings & Timing & { missedRounds: number } = {
  pollMs: 1000,
  backendTimeoutMs: 2000,
  failThreshold: 2,
  failoverDelayMs: 10_000,
  createTimeoutMs: 4000,
  missedRounds: 2,
};

/** Rounds the cluster gets to converge after the probes of rule 2. */
const FINAL_ROUNDS = 6;

/** Options of {@linkcode runChaos}. */
export interface ChaosOptions {
  seed: number;
  /** Length of the run in seconds, quiet phase included (at least 30). */
  seconds: number;
  /** Where progress, violations and the summary go. @default console.log */
  print?: (line: string) => void;
}

/** What a run found. */
export interface ChaosResult {
  seed: number;
  operations: number;
  faults: number;
  violations: Violation[];
  /** The directory with the history and the serve logs, kept when there were violations; else null. */
  kept: string | null;
  /** `chaos: N operations, F faults, V violations`. */
  summary: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** One chaos run. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const print = options.print ?? console.log;
  const { seed } = options;
  const quietMs = SETTINGS.failoverDelayMs + 3 * SETTINGS.pollMs + (FINAL_ROUNDS + 3) * SETTINGS.pollMs;
  const faultMs = Math.max(10_000, options.seconds * 1000 - quietMs);
  // Under the checkout's own tmp/ (git ignores it), not the machine's /tmp: twice a run's directory vanished from
  // /tmp while the whole suite ran beside it (cause not found), which cut the run short.
  const parent = new URL("../../tmp/", import.meta.url).pathname;
  await Deno.mkdir(parent, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: parent, prefix: `chaos-${seed}-` });
  const world = await World.create(dir, UNIVERSE.servers, UNIVERSE.tenants, SETTINGS);
  const ids = world.fakes.map((_, i) => i + 1);
  const clock = new RoundClock(world.fakes, SETTINGS.pollMs);
  const activity = new ActivityLog(() => clock.mark(), ids);
  const checker = new Checker(clock, activity, {
    missedRounds: SETTINGS.missedRounds,
    // The longest a create may take by the old rule (four backend timeouts and 10 s) or by the new one.
    claimLimitMs: 4 * Math.max(SETTINGS.backendTimeoutMs, SETTINGS.createTimeoutMs) + 10_000,
  });
  let history = new History(Date.now());
  const beliefs = new Beliefs();
  const announce = (v: Violation) => {
    history.add("violation", "checker", `[${v.rule}] ${v.text}`, {
      refs: v.ref ? [v.ref] : [],
      servers: v.servers,
    });
    print(`chaos: VIOLATION [${v.rule}] ${v.text}`);
  };
  const step = () => checker.checkTruth(world.copies()).forEach(announce);
  let operations = 0;
  let faults = 0;
  let done = false;
  try {
    print(`chaos: seed ${seed}, ${options.seconds} s (${Math.round(faultMs / 1000)} s of faults), in ${dir}`);
    await world.startServe(0);
    const t0 = Date.now();
    history = new History(t0);
    activity.serveStarted();
    history.add("serve", "run", `serve A started (port ${world.serves[0]!.port}); seed ${seed}`);

    const runner = new FaultRunner({ world, activity, beliefs, history, step });
    const deps = {
      world,
      activity,
      beliefs,
      history,
      step,
      isolation: (ref: string, text: string) => {
        const v = checker.report({ rule: "4-tenant-isolation", ref, servers: [], text });
        if (v) announce(v);
      },
      clientListing: () => clock.clientListing(),
    };
    const clients = Array.from(
      { length: UNIVERSE.clients },
      (_, i) => new Client(deps, i + 1, clientOps(seed, i + 1, UNIVERSE)),
    );
    const faultEnd = t0 + faultMs;
    const tick = setInterval(step, 500);
    const viewLoop = (async () => {
      while (!done) {
        await sleep(1000);
        (await checker.checkView(() => world.copies(), () => world.view())).forEach(announce);
      }
    })();
    try {
      await Promise.all([
        runner.run(planFaults(seed, faultMs, UNIVERSE, SETTINGS), t0, faultEnd),
        ...clients.map((c) => c.run(faultEnd)),
        sleep(faultEnd - Date.now()),
      ]);
      await runner.stopAll();
      history.add("check", "run", "the faults stopped");
      print(`chaos: faults stopped after ${Math.round((Date.now() - t0) / 1000)} s; quiet phase`);
      await sleep(SETTINGS.failoverDelayMs + 3 * SETTINGS.pollMs);
      await probe(world, beliefs, history, (v) => {
        const added = checker.report(v);
        if (added) announce(added);
      });
      const settled = clock.mark();
      for (let waited = 0; !clock.elapsed(settled, ids, FINAL_ROUNDS) && waited < 60_000; waited += 250) {
        await sleep(250);
      }
      step();
      (await checker.checkView(() => world.copies(), () => world.view())).forEach(announce);
      (await converged(world)).forEach((v) => {
        const added = checker.report(v);
        if (added) announce(added);
      });
    } finally {
      done = true;
      clearInterval(tick);
      await viewLoop;
    }
    operations = clients.reduce((n, c) => n + c.operations, 0);
    faults = runner.faults;
  } finally {
    await world.close();
  }

  const violations = checker.violations;
  const summary = `chaos: ${operations} operations, ${faults} faults, ${violations.length} violations`;
  let kept: string | null = null;
  if (violations.length > 0) {
    const tenants = world.tenants.filter((t) => t !== "");
    for (const { label: name, serve } of world.started) {
      await Deno.writeTextFile(`${dir}/serve-${name}.log`, serve.stderr);
      history.importLog(name, serve.stderr, (id) => refOf(id, tenants));
    }
    await Deno.writeTextFile(`${dir}/history.txt`, History.format(history.entries) + "\n");
    for (const f of ["bbblb.kv", "bbblb.kv-shm", "bbblb.kv-wal"]) {
      await Deno.remove(`${dir}/${f}`).catch(() => {});
    }
    kept = dir;
    print(
      `chaos: seed ${seed} (replay: CHAOS_SEED=${seed} CHAOS_SECONDS=${options.seconds} deno task chaos)`,
    );
    // The history of the first violation of each rule; the others are listed.
    const shown = new Set<string>();
    for (const v of violations) {
      if (shown.has(v.rule)) continue;
      shown.add(v.rule);
      const at = history.entries.find((e) => e.kind === "violation" && e.text === `[${v.rule}] ${v.text}`);
      print(`\nchaos: history of [${v.rule}] ${v.ref ? label(v.ref) : `server ${v.servers.join(", ")}`}:`);
      print(History.format(history.about(v.ref ? [v.ref] : [], v.servers, 40, at?.t ?? Infinity)));
    }
    print(`\nchaos: ${violations.length} violations:`);
    for (const v of violations) print(`  [${v.rule}] ${v.text}`);
    print(`chaos: the whole history and the serve logs are in ${dir}`);
  } else {
    await Deno.remove(dir, { recursive: true });
  }
  print(summary);
  return { seed, operations, faults, violations, kept, summary };
}

/**
 * Rule 2: every meeting the clients believe running is joined through bbblb once, and must land in the copy
 * with participants (or, when none has any, in a copy that exists); the join is completed only then, so a
 * wrong landing does not add a participant to a second copy.
 */
async function probe(world: World, beliefs: Beliefs, history: History, report: (v: Violation) => void) {
  const refs = beliefs.running();
  history.add(
    "check",
    "probe",
    `joining the ${refs.length} meetings believed running: ${refs.map(label).join(", ")}`,
  );
  for (const [n, ref] of refs.entries()) {
    const at = ref.indexOf("/");
    const tenant = ref.slice(0, at);
    const meetingID = ref.slice(at + 1);
    const serve = await world.pickServe(0);
    if (!serve) {
      report({
        rule: "2-join-after-faults",
        ref,
        servers: [],
        text: "no serve instance runs after the faults",
      });
      continue;
    }
    const userID = `probe-${n + 1}`;
    const answer = await world.api(serve, tenant, "join", {
      meetingID,
      fullName: userID,
      userID,
      role: "VIEWER",
    });
    const copies = world.copies().filter((c) => c.ref === ref);
    const withPeople = copies.filter((c) => c.participants > 0);
    const where = withPeople.length > 0
      ? `participants are on server ${withPeople.map((c) => c.server).join(", ")}`
      : copies.length > 0
      ? `empty copies are on server ${copies.map((c) => c.server).join(", ")}`
      : "no server runs it";
    let problem: string | null = null;
    let server: number | null = null;
    if ("error" in answer) problem = `the join got no answer (${answer.error}); ${where}`;
    else if (answer.status !== 302 || !answer.location) {
      const key = tags(answer.body, "messageKey")[0] ?? `HTTP ${answer.status}`;
      problem = `the join answered ${key}; ${where}`;
    } else {
      problem = isolationProblem("join", tenant, meetingID, answer, world.tenants.filter((t) => t !== ""));
      server = world.serverOfUrl(answer.location);
      const right = withPeople.length > 0 ? withPeople : copies;
      if (!problem && !right.some((c) => c.server === server)) {
        problem = `the join landed on server ${server}; ${where}`;
      }
      if (!problem) {
        const res = await fetch(answer.location, { redirect: "manual", signal: AbortSignal.timeout(5000) })
          .catch((e) => ({ status: 0, error: String(e), body: null }));
        await res.body?.cancel();
        if (res.status !== 302) problem = `server ${server} refused the join (HTTP ${res.status})`;
      }
    }
    history.add("check", "probe", `${label(ref)} join → ${problem ?? `landed on server ${server}`}`, {
      refs: [ref],
      servers: server === null ? [] : [server],
    });
    if (problem) {
      report({
        rule: "2-join-after-faults",
        ref,
        servers: copies.map((c) => c.server),
        text: `${label(ref)}, believed running, ${
          SETTINGS.failoverDelayMs / 1000 + 3
        } s after the faults: ${problem}`,
      });
    }
  }
}

/**
 * Rule 3 once the cluster is quiet: what `bbblb list-servers --json` says runs on each server equals what runs
 * there (meetings, participants, every server online), and its load sums equal those of `list-meetings --json`.
 */
async function converged(world: World): Promise<Violation[]> {
  const servers = await world.cli(["list-servers", "--json"]);
  const meetings = await world.cli(["list-meetings", "--json"]);
  if (servers.code !== 0 || meetings.code !== 0) {
    return [{
      rule: "3-meeting-count",
      ref: null,
      servers: [],
      text: `list-servers or list-meetings failed: ${servers.stderr}${meetings.stderr}`.trim(),
    }];
  }
  const rows: { id: number; online: boolean; meetings: number; load: number; participants: number }[] = JSON
    .parse(servers.stdout);
  const meetingRows: { serverId: number; load: number }[] = JSON.parse(meetings.stdout);
  const copies = world.copies();
  const found: Violation[] = [];
  for (const row of rows) {
    const here = copies.filter((c) => c.server === row.id);
    const people = here.reduce((n, c) => n + c.participants, 0);
    const load = meetingRows.filter((m) => m.serverId === row.id).reduce((n, m) => n + m.load, 0);
    const wrong = [
      row.meetings !== here.length ? `${row.meetings} meetings (it runs ${here.length})` : "",
      row.participants !== people ? `${row.participants} participants (it has ${people})` : "",
      Math.abs(row.load - load) > 1e-9 ? `load ${row.load} (its meetings declare ${load})` : "",
      row.online ? "" : "offline",
    ].filter((w) => w !== "");
    if (wrong.length > 0) {
      found.push({
        rule: "3-meeting-count",
        ref: null,
        servers: [row.id],
        text: `after the faults, list-servers shows server ${row.id} with ${wrong.join(", ")}`,
      });
    }
  }
  return found;
}

if (import.meta.main) {
  const rawSeed = Deno.env.get("CHAOS_SEED");
  const rawSeconds = Deno.env.get("CHAOS_SECONDS") ?? "600";
  const seed = rawSeed === undefined ? crypto.getRandomValues(new Uint32Array(1))[0] : Number(rawSeed);
  const seconds = Number(rawSeconds);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    console.error(`CHAOS_SEED: "${rawSeed}" is not a whole number from 0 to 4294967295`);
    Deno.exit(2);
  }
  if (!Number.isInteger(seconds) || seconds < 30) {
    console.error(`CHAOS_SECONDS: "${rawSeconds}" is not a whole number of at least 30`);
    Deno.exit(2);
  }
  const result = await runChaos({ seed, seconds });
  Deno.exit(result.violations.length > 0 ? 1 : 0);
}
