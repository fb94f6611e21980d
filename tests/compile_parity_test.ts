/**
 * The compiled binary must behave like `./bbblb` and like the tests: the compile script (`deno task compile`
 * and `release`), the launcher and the test task grant the same permissions, enable the same unstable APIs and
 * pass the same V8 flags.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RUNTIME_FLAGS } from "../build/compile.ts";

const root = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const launcher = await Deno.readTextFile(new URL("bbblb", root));

/** The flags that change what the program may do, which APIs it has, or how V8 runs it. */
function runtimeFlags(words: readonly string[]): string[] {
  return words.filter((w) => /^(-A|--allow-\S+|--deny-\S+|--unstable-\S+|--frozen|--v8-flags\S*)$/.test(w))
    .sort();
}

Deno.test("deno task compile and release use exactly the launcher's permissions, unstable APIs and V8 flags", () => {
  const execLine = launcher.split("\n").find((l) => l.startsWith("exec "))!;
  assert.ok(execLine, "the launcher execs Deno");
  assert.match(config.tasks.compile, /build\/compile\.ts/);
  assert.match(config.tasks.release, /build\/compile\.ts --release/);
  assert.deepEqual(runtimeFlags(RUNTIME_FLAGS), runtimeFlags(execLine.split(/\s+/)));
  assert.deepEqual(
    runtimeFlags(execLine.split(/\s+/)),
    ["--frozen", "--unstable-cron", "--unstable-kv", "-A"].sort(),
  );
});

Deno.test("the tests run with the same permissions and unstable APIs as the binary", () => {
  assert.ok(runtimeFlags(config.tasks.test.split(/\s+/)).includes("-A"));
  // deno test takes the unstable APIs from deno.json
  assert.deepEqual([...config.unstable].sort(), ["cron", "kv"]);
  const compiled = runtimeFlags(RUNTIME_FLAGS).filter((f) => f.startsWith("--unstable-"));
  assert.deepEqual(compiled, config.unstable.map((u: string) => `--unstable-${u}`).sort());
});

Deno.test("bbblb --version prints the version in deno.json", async () => {
  const out = await new Deno.Command(new URL("bbblb", root), { args: ["--version"] }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), config.version);
});
