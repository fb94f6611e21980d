/**
 * Helpers of the benchmark driver (`bench/run.ts`): running Debian's `wrk` and parsing its report, starting
 * `./bbblb serve`, the fake fleet and the ceiling server as processes, signing calls, and reading a process's
 * memory from `/proc`.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** The repository root. */
export const ROOT = new URL("../", import.meta.url).pathname;

/** The pinned Deno. */
export const DENO = `${ROOT}tools/deno/deno`;

/** What `wrk --latency` reported. */
export interface WrkReport {
  /** Requests per second over the run. */
  rps: number;
  /** Latency percentiles, in microseconds. */
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  /** Requests completed. */
  requests: number;
  /** Responses with a status outside 2xx/3xx, and socket errors (connect, read, write, timeout). */
  errors: number;
}

/** Options of {@linkcode wrk}. */
export interface WrkOptions {
  /** Target origin, e.g. `http://127.0.0.1:8090`. */
  origin: string;
  /** A file with one request path per line; requests cycle through it in order. */
  pathsFile: string;
  connections: number;
  /** Seconds. */
  duration: number;
}

const LUA = `
local paths = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
`;

/**
 * Run `wrk` (one thread, so every path of the file is sent once before any repeats) and parse its report.
 *
 * @throws {Error} when wrk is missing (naming the Debian package) or its report cannot be read
 */
export async function wrk(o: WrkOptions): Promise<WrkReport> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(script, LUA);
  let out;
  try {
    out = await new Deno.Command("wrk", {
      args: [
        "-t1",
        `-c${o.connections}`,
        `-d${o.duration}s`,
        "--timeout",
        "5s",
        "--latency",
        "-s",
        script,
        o.origin,
        "--",
        o.pathsFile,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error("the load generator wrk is missing: apt-get install wrk (Debian)");
    }
    throw e;
  } finally {
    await Deno.remove(script);
  }
  const text = new TextDecoder().decode(out.stdout);
  const pct = (p: string) => {
    const m = text.match(new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m"));
    if (!m) throw new Error(`cannot read the ${p}th percentile from wrk:\n${text}`);
    return Number(m[1]) * ({ us: 1, ms: 1000, s: 1e6 } as Record<string, number>)[m[2]];
  };
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  const requests = Number(text.match(/(\d+) requests in/)?.[1]);
  const non2xx = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const sock = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const errors = non2xx + (sock ? sock.slice(1).reduce((n, v) => n + Number(v), 0) : 0);
  if (!Number.isFinite(rps) || !Number.isFinite(requests)) {
    throw new Error(`cannot read wrk's report:\n${text}`);
  }
  return { rps, p50: pct("50"), p75: pct("75"), p90: pct("90"), p99: pct("99"), requests, errors };
}

/** A port that was free a moment ago, on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** `call?query&checksum=…`, signed with sha256 as a BBB client signs. */
export function signedPath(call: string, query: string, secret: string): string {
  const sum = createHash("sha256").update(call + query + secret).digest("hex");
  return `/bigbluebutton/api/${call}?${query}${query === "" ? "" : "&"}checksum=${sum}`;
}

/** A child process of the benchmark with its log in a file. */
export class Proc {
  constructor(readonly child: Deno.ChildProcess, readonly logFile: string) {}

  /** The process id (the Deno process itself: the launchers `exec`). */
  get pid(): number {
    return this.child.pid;
  }

  /** The last lines of its log, for error messages. */
  async logTail(lines = 20): Promise<string> {
    try {
      return (await Deno.readTextFile(this.logFile)).split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** SIGTERM, then SIGKILL after 5 s; waits for the exit. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      return; // already gone
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await this.child.status;
    clearTimeout(timer);
  }
}

/**
 * Spawn `argv` with stdout piped (for a ready line) and stderr appended to `logFile` (so a chatty process never
 * blocks on a full pipe and the driver spends nothing reading it).
 */
export function spawn(argv: string[], logFile: string, env: Record<string, string> = {}): Proc {
  const quoted = argv.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const child = new Deno.Command("sh", {
    args: ["-c", `exec ${quoted} 2>>'${logFile}'`],
    cwd: ROOT,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  return new Proc(child, logFile);
}

/** Read the first line a process prints on stdout (its ready line); the rest of stdout is drained. */
export async function firstLine(p: Proc, timeoutMs = 60_000): Promise<string> {
  const reader = p.child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + timeoutMs;
  while (!buf.includes("\n")) {
    if (Date.now() > deadline) throw new Error(`no ready line within ${timeoutMs} ms:\n${await p.logTail()}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`the process exited before it was ready:\n${await p.logTail()}`);
    buf += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return buf.slice(0, buf.indexOf("\n"));
}

/** A fake server of the fleet. */
export interface FleetMember {
  port: number;
  secret: string;
}

/** A running fleet of fake BBB servers (`bench/_fleet.ts`). */
export interface Fleet {
  proc: Proc;
  members: FleetMember[];
}

/** Start a fleet of `count` fakes with `meetings` running meetings each, the first `hang` of them hanging. */
export async function startFleet(
  dir: string,
  count: number,
  options: { meetings?: number; hang?: number } = {},
): Promise<Fleet> {
  const proc = spawn([
    DENO,
    "run",
    "-A",
    "--frozen",
    `${ROOT}bench/_fleet.ts`,
    "--count",
    String(count),
    "--meetings",
    String(options.meetings ?? 0),
    "--hang",
    String(options.hang ?? 0),
  ], `${dir}/fleet.log`);
  return { proc, members: JSON.parse(await firstLine(proc)) };
}

/**
 * Register every fleet member (ids 1..n; `--no-check` when told so) with one `./bbblb sync-servers`, which also
 * creates the store (add-server refuses a missing one).
 */
export async function registerFleet(kv: string, fleet: Fleet, check = false): Promise<void> {
  const servers = fleet.members.map((m, i) => ({
    id: i + 1,
    url: `http://127.0.0.1:${m.port}/bigbluebutton/`,
    secret: m.secret,
  }));
  const args = ["sync-servers", "-", "--kv", kv, ...(check ? [] : ["--no-check"])];
  const child = new Deno.Command(`${ROOT}bbblb`, { args, stdin: "piped", stdout: "null", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(servers)));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`sync-servers failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** A running `./bbblb serve`. */
export interface Serve {
  proc: Proc;
  port: number;
  origin: string;
}

/** Start `./bbblb serve` on a free port with a KV file and wait until the API answers. */
export async function startServe(
  dir: string,
  kv: string,
  secret: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Serve> {
  const port = freePort();
  const proc = spawn(
    [`${ROOT}bbblb`, "serve", "--kv", kv, "--port", String(port), "--secret", secret, ...args],
    `${dir}/serve-${port}.log`,
    { BBBLB_CONFIG: "", ...env },
  );
  const origin = `http://127.0.0.1:${port}`;
  await untilAnswers(`${origin}/bigbluebutton/api/`, 60_000, proc);
  return { proc, port, origin };
}

/**
 * Poll `url` until it answers SUCCESS; returns the milliseconds it took.
 *
 * @throws {Error} when the process exits or time runs out
 */
export async function untilAnswers(url: string, timeoutMs: number, proc?: Proc): Promise<number> {
  const started = performance.now();
  let exited = false;
  proc?.child.status.then(() => exited = true);
  while (performance.now() - started < timeoutMs) {
    if (exited) throw new Error(`the process exited before it answered:\n${await proc!.logTail()}`);
    try {
      const res = await fetch(url);
      if ((await res.text()).includes("<returncode>SUCCESS</returncode>")) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${await proc?.logTail()}`);
}

/** Resident set size and its peak (`VmRSS`, `VmHWM` from /proc), in MiB. */
export async function memoryOf(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1]);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** The median of some numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
