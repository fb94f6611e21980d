/**
 * The single binary is built for real: `deno task compile` and `deno task release` run their whole pipeline with
 * a stand-in runtime (`DENORT_BIN=/bin/true`, see DESIGN §5), offline, and the files they write carry the app
 * and none of the test-only packages.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RELEASE_TARGETS, sha256File, testOnlyPaths } from "./compile.ts";

const ROOT = new URL("../", import.meta.url);
/** Packages in the import map only for the tests; the binary must not carry them. */
const TEST_ONLY_PACKAGES = ["playwright-core", "fast-check", "bigbluebutton-js"];
/** Packages the program imports; the binary must carry them. */
const APP_PACKAGES = ["hono", "commander", "prom-client", "bintrees", "fast-xml-parser", "yaml", "jose"];

/** Run a `deno task` with the stand-in runtime; fails the test with its output when it fails. */
async function task(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", ...args],
    cwd: ROOT,
    env: { DENORT_BIN: "/bin/true", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  const text = d.decode(out.stdout) + d.decode(out.stderr);
  assert.equal(out.code, 0, `deno task ${args.join(" ")} failed:\n${text}`);
  return text;
}

/**
 * The names in the binary's embedded file system (Deno writes its directory tree as JSON entries
 * `{"n":"NAME",...}`), and whether the text of `main.ts` is in it.
 */
async function embedded(path: string): Promise<{ names: Set<string>; hasMain: boolean }> {
  const bytes = await Deno.readFile(path);
  const text = new TextDecoder("latin1").decode(bytes);
  const names = new Set([...text.matchAll(/\{"n":"([^"]+)"/g)].map((m) => m[1]));
  const main = await Deno.readTextFile(new URL("main.ts", ROOT));
  return { names, hasMain: text.includes(main.slice(0, 400)) };
}

function assertCarriesTheAppOnly(names: Set<string>, hasMain: boolean): void {
  assert.ok(hasMain, "the binary does not carry main.ts");
  for (const name of ["main.ts", "src", "api", "app.ts", "cli", ...APP_PACKAGES]) {
    assert.ok(names.has(name), `the binary lacks ${name}`);
  }
  for (const name of TEST_ONLY_PACKAGES) assert.ok(!names.has(name), `the binary carries ${name}`);
  assert.ok(!names.has("100k"), "the binary carries bintrees' test data");
}

Deno.test("deno task compile writes an executable that carries the app and none of the test-only packages", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-compile-" });
  try {
    const out = `${dir}/bbblb`;
    await task(["compile", "--output", out]);
    const stat = await Deno.stat(out);
    assert.ok(stat.isFile && (stat.mode! & 0o111) !== 0, "the binary is not an executable file");
    const { names, hasMain } = await embedded(out);
    assertCarriesTheAppOnly(names, hasMain);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task release writes a linux x86_64 and an aarch64 binary with matching SHA-256 sums", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-release-" });
  try {
    await task(["release", "--out-dir", dir]);
    const sums = (await Deno.readTextFile(`${dir}/SHA256SUMS`)).trim().split("\n");
    assert.deepEqual(
      sums.map((l) => l.split("  ")[1]),
      RELEASE_TARGETS.map((t) => `bbblb-${t.name}`),
    );
    for (const line of sums) {
      const [sum, file] = line.split("  ");
      assert.equal(await sha256File(`${dir}/${file}`), sum, `the sum of ${file} does not match`);
      const { names, hasMain } = await embedded(`${dir}/${file}`);
      assertCarriesTheAppOnly(names, hasMain);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the folders left out of the binary are test folders, found anew from the dependencies", async () => {
  const paths = await testOnlyPaths();
  // bintrees' test folder is the one that crashed deno compile; it is found by name, not listed by hand.
  assert.ok(paths.some((p) => /\/bintrees\/[^/]+\/test$/.test(p)), paths.join("\n"));
  for (const p of paths) assert.match(p, /\/(test|tests|__tests__|spec|examples?|benchmarks?|bench)$/);
});
