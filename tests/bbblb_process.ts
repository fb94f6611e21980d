/**
 * Helpers for tests that run bbblb the way an operator does: `./bbblb` as a subprocess with a minimal
 * environment (so `BBBLB_*` variables of the outer shell never leak in), `./bbblb serve` on a free port, and
 * signed BBB API calls.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { DEFAULT_CONFIG_VARIABLE } from "../src/config.ts";
import { openStore } from "../src/store/kv.ts";
import { ensureSchema } from "../src/store/schema.ts";
import { addServer } from "../src/store/servers.ts";
import type { FakeBbb } from "./fake_bbb.ts";

/** The repository root (where the `./bbblb` launcher lives). */
export const ROOT: URL = new URL("../", import.meta.url);

/** What a finished `./bbblb` subprocess left behind. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runBbblb}. */
export interface RunOptions {
  /** Extra environment variables (on top of PATH, HOME and DENO_DIR). */
  env?: Record<string, string>;
  /** Text written to standard input (otherwise stdin is empty). */
  stdin?: string;
}

/**
 * PATH, HOME and DENO_DIR (and XDG_CACHE_HOME, where Deno finds its cache) from the outer environment, and no
 * default config file: the machine's `/etc/bbblb/bbblb.env` (a service installed on it) must not reach a test.
 */
export function minimalEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { [DEFAULT_CONFIG_VARIABLE]: "" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Run `fn` with a fresh temporary directory (named with `prefix`), removed afterwards. */
export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Create an empty store at `path`, as `serve` does on its first start (admin commands such as `add-server` refuse
 * a store that does not exist).
 */
export async function createStore(path: string): Promise<void> {
  const kv = await openStore(path, true);
  try {
    await ensureSchema(kv);
  } finally {
    kv.close();
  }
}

/** Run `./bbblb ARGS` to completion. */
export async function runBbblb(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const child = new Deno.Command("./bbblb", {
    args,
    cwd: ROOT,
    clearEnv: true,
    env: minimalEnv(options.env),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  if (options.stdin !== undefined) await writer.write(new TextEncoder().encode(options.stdin));
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** A port that was free a moment ago, on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Collects a byte stream as text while the process runs. */
class TextSink {
  text = "";
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) this.text += chunk;
    })();
  }
}

/** Options of {@linkcode startServe}. */
export interface ServeOptions {
  /** The KV file. */
  kv: string;
  /** `--secret`; omitted when undefined. */
  secret?: string;
  /** More flags, e.g. `["--backend-timeout", "1"]`. */
  args?: string[];
  /** How long to wait until the API answers, in ms. @default 30 000 (the first start may compile) */
  readyTimeoutMs?: number;
  /** The port to listen on. @default a free one */
  port?: number;
  /** Extra environment variables (on top of PATH, HOME and DENO_DIR), e.g. `BBBLB_*` settings. */
  env?: Record<string, string>;
}

/** A running `./bbblb serve`. */
export class ServeProcess {
  readonly port: number;
  readonly child: Deno.ChildProcess;
  readonly #stdout: TextSink;
  readonly #stderr: TextSink;
  #status: Deno.CommandStatus | undefined;
  readonly #finished: Promise<Deno.CommandStatus>;

  constructor(port: number, child: Deno.ChildProcess) {
    this.port = port;
    this.child = child;
    this.#stdout = new TextSink(child.stdout);
    this.#stderr = new TextSink(child.stderr);
    this.#finished = child.status.then(async (status) => {
      await Promise.all([this.#stdout.done, this.#stderr.done]);
      this.#status = status;
      return status;
    });
  }

  /** `http://127.0.0.1:PORT/bigbluebutton/`, the URL clients are configured with. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/bigbluebutton/`;
  }

  /** Everything written to stdout so far. */
  get stdout(): string {
    return this.#stdout.text;
  }

  /** Everything written to stderr so far. */
  get stderr(): string {
    return this.#stderr.text;
  }

  /** The exit status, once the process has exited and its output was read. */
  get finished(): Promise<Deno.CommandStatus> {
    return this.#finished;
  }

  /**
   * Resolves when this process logged that it listens on its port and `GET /bigbluebutton/api/` answers
   * SUCCESS; throws if the process exits or time runs out. (The port was free a moment before the start: under
   * parallel tests another serve may take it, and its answer must not be mistaken for this one's.)
   *
   * @param logsListening whether the process logs its `listening` line (not at `--log-level warn` or `error`)
   */
  async ready(timeoutMs: number, logsListening = true): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#status) {
        throw new Error(`bbblb serve exited with ${this.#status.code} before it answered:\n${this.stderr}`);
      }
      if (logsListening && !new RegExp(`listening.*:${this.port}\\b`).test(this.stderr)) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      try {
        const res = await fetch(`${this.url}api/`, { signal: AbortSignal.timeout(2000) });
        const text = await res.text();
        if (res.status === 200 && text.includes("<returncode>SUCCESS</returncode>")) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`bbblb serve did not answer within ${timeoutMs} ms:\n${this.stderr}`);
  }

  /** Send SIGTERM and wait for the exit status. */
  async terminate(): Promise<Deno.CommandStatus> {
    if (!this.#status) {
      try {
        this.child.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
    return await this.#finished;
  }

  /** Make sure the process is gone (SIGKILL if SIGTERM did not do it within 5 s); for finally blocks. */
  async kill(): Promise<void> {
    if (this.#status) return;
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#finished.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), 5000)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await this.#finished;
    }
  }
}

/** Start `./bbblb serve` on a free port and wait until its API answers. */
export async function startServe(options: ServeOptions): Promise<ServeProcess> {
  const port = options.port ?? freePort();
  const args = ["serve", "--kv", options.kv, "--port", String(port)];
  if (options.secret !== undefined) args.push("--secret", options.secret);
  args.push(...(options.args ?? []));
  const child = new Deno.Command("./bbblb", {
    args,
    cwd: ROOT,
    clearEnv: true,
    env: minimalEnv(options.env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const serve = new ServeProcess(port, child);
  try {
    const quiet = /^(warn|error)$/.test(args[args.indexOf("--log-level") + 1] ?? "") &&
      args.includes("--log-level");
    await serve.ready(options.readyTimeoutMs ?? 30_000, !quiet);
  } catch (e) {
    await serve.kill();
    throw e;
  }
  return serve;
}

/** `call?query&checksum=…` signed with sha256 over `call + query + secret`, as a BBB client does. */
export function signedPath(call: string, query: string, secret: string): string {
  const sum = createHash("sha256").update(call + query + secret).digest("hex");
  return `${call}?${query}${query === "" ? "" : "&"}checksum=${sum}`;
}

/**
 * Open (creating it) the KV file at `path` with the fakes registered as servers 1..n, enabled, signed with
 * sha256, as a `serve` started on it afterwards finds them. The caller closes the store.
 */
export async function storeWithFakes(path: string, fakes: readonly FakeBbb[]): Promise<Deno.Kv> {
  const kv = await openStore(path);
  await ensureSchema(kv);
  for (const [i, f] of fakes.entries()) {
    await addServer(kv, {
      id: i + 1,
      apiUrl: f.apiUrl,
      secret: f.secret,
      weight: 1,
      state: "enabled",
      checksum: "sha256",
      addedAt: 0,
    });
  }
  return kv;
}
