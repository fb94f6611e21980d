/**
 * `deno task compile` and `deno task release`: build the single `bbblb` binary with `deno compile`.
 *
 * `deno compile` embeds every file of every npm package it ships. Two things are left out here, and both are
 * computed from the dependency graph at build time, so they hold after any dependency update:
 *
 * - packages the program never imports (`--exclude-unused-npm`): the test-only `playwright-core`, `fast-check`
 *   and `bigbluebutton-js` are in the import map for the tests, not in the binary;
 * - the top-level test, example and benchmark folders of the packages it does ship (`--exclude`, one exact path
 *   each, as `deno compile` takes no patterns). Measured on Deno 2.8.3 and 2.9.6: `deno compile` reads every
 *   file in a package, and a data file without an extension is parsed as JavaScript; `bintrees` (prom-client ->
 *   tdigest -> bintrees) ships `test/perf/100k`, one number per line, which parses as a chain of 100,000
 *   subtractions and overflows the compiler's stack ("thread 'tokio-runtime-worker' has overflowed its stack").
 *   No program loads such folders at run time; a folder that a package's `main`, `exports` or `bin` names is kept.
 *
 * The runtime flags ({@linkcode RUNTIME_FLAGS}) are those of the `./bbblb` launcher; `tests/compile_parity_test.ts`
 * keeps them equal. `deno compile` downloads the Deno runtime (`denort`) for each target on first use, so a
 * build needs internet access once; with `DENORT_BIN` naming any executable (a stand-in such as `/bin/true`) it
 * runs its whole pipeline offline and writes a file that cannot run but proves every step before the runtime
 * (this is how the tests build it).
 *
 * Usage: `deno run -A build/compile.ts [--output FILE] [--target TRIPLE]` (one binary, default `dist/bbblb` for
 * this machine), or `deno run -A build/compile.ts --release [--out-dir DIR]` (linux x86_64 and aarch64, and
 * `SHA256SUMS`, default in `dist/`).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";

/** The flags that decide what the binary may do and which APIs it has: the same as the `./bbblb` launcher's. */
export const RUNTIME_FLAGS: readonly string[] = ["-A", "--frozen", "--unstable-kv", "--unstable-cron"];

/** The release targets: file-name suffix and Rust target triple. */
export const RELEASE_TARGETS: readonly { name: string; target: string }[] = [
  { name: "linux-x86_64", target: "x86_64-unknown-linux-gnu" },
  { name: "linux-aarch64", target: "aarch64-unknown-linux-gnu" },
];

/** Names of top-level package folders that hold tests, examples or benchmarks, never code a program loads. */
export const TEST_ONLY_FOLDERS: readonly string[] = [
  "test",
  "tests",
  "__tests__",
  "spec",
  "example",
  "examples",
  "benchmark",
  "benchmarks",
  "bench",
];

/** The repository root. */
const ROOT = new URL("../", import.meta.url);

/** A failed build step, with a sentence for the person building. */
export class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuildError";
  }
}

/** Run Deno (the one running this script) with `args` in the repository root; stdout as text. */
async function deno(args: string[], env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    const hint = args[0] === "compile" && !Deno.env.get("DENORT_BIN")
      ? " (the first build for a target downloads the Deno runtime: it needs internet access)"
      : "";
    throw new BuildError(`deno ${args[0]} failed (exit ${out.code})${hint}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * The exact paths of the test, example and benchmark folders ({@linkcode TEST_ONLY_FOLDERS}) at the top of
 * every npm package `main.ts` depends on, where Deno keeps them (from `deno info --json`). A folder that the
 * package's `main`, `exports` or `bin` names stays.
 */
export async function testOnlyPaths(): Promise<string[]> {
  const info = JSON.parse(await deno(["info", "--frozen", "--json", "main.ts"]));
  const paths: string[] = [];
  for (const pkg of Object.values(info.npmPackages ?? {}) as { localPath?: string }[]) {
    if (!pkg.localPath) continue;
    let manifest = "";
    try {
      const json = JSON.parse(await Deno.readTextFile(`${pkg.localPath}/package.json`));
      manifest = JSON.stringify([json.main, json.exports, json.bin, json.module]);
    } catch {
      // no readable package.json: nothing names a folder
    }
    for (const name of TEST_ONLY_FOLDERS) {
      const path = `${pkg.localPath}/${name}`;
      const isDir = await Deno.stat(path).then((s) => s.isDirectory, () => false);
      if (isDir && !new RegExp(`(^|[/"])${name}/`).test(manifest)) paths.push(path);
    }
  }
  return paths.sort();
}

/** Options of {@linkcode compile}. */
export interface CompileOptions {
  /** Where the binary goes. */
  output: string;
  /** A Rust target triple (`x86_64-unknown-linux-gnu`); this machine's when absent. */
  target?: string;
  /** The folders to leave out; computed with {@linkcode testOnlyPaths} when absent. */
  exclude?: string[];
}

/** The arguments of `deno compile` for one binary. */
export function compileArgs(options: Required<Pick<CompileOptions, "output" | "exclude">> & CompileOptions) {
  return [
    "compile",
    ...RUNTIME_FLAGS,
    "--exclude-unused-npm",
    ...options.exclude.flatMap((p) => ["--exclude", p]),
    ...(options.target ? ["--target", options.target] : []),
    "--output",
    options.output,
    "main.ts",
  ];
}

/** Build one binary. */
export async function compile(options: CompileOptions): Promise<void> {
  const exclude = options.exclude ?? await testOnlyPaths();
  await deno(compileArgs({ ...options, exclude }));
}

/** The SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Build the binaries of {@linkcode RELEASE_TARGETS} into `outDir` as `bbblb-<name>`, and `SHA256SUMS` beside them
 * in the format `sha256sum -c SHA256SUMS` checks.
 *
 * @returns the file names written
 */
export async function release(outDir: string): Promise<string[]> {
  await Deno.mkdir(outDir, { recursive: true });
  const exclude = await testOnlyPaths();
  const names: string[] = [];
  const sums: string[] = [];
  for (const { name, target } of RELEASE_TARGETS) {
    const file = `bbblb-${name}`;
    await compile({ output: `${outDir}/${file}`, target, exclude });
    sums.push(`${await sha256File(`${outDir}/${file}`)}  ${file}`);
    names.push(file);
  }
  await Deno.writeTextFile(`${outDir}/SHA256SUMS`, sums.join("\n") + "\n");
  return [...names, "SHA256SUMS"];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      output: { type: "string", short: "o" },
      target: { type: "string" },
      release: { type: "boolean" },
      "out-dir": { type: "string" },
    },
  });
  try {
    if (values.release) {
      const dir = values["out-dir"] ?? "dist";
      const files = await release(dir);
      console.log(`wrote ${files.map((f) => `${dir}/${f}`).join(", ")}`);
    } else {
      const output = values.output ?? "dist/bbblb";
      await compile({ output, target: values.target });
      console.log(`wrote ${output}`);
    }
  } catch (e) {
    console.error(`compile: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
