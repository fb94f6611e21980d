/**
 * The compiled binary must behave like `./bbblb` and like the tests: the `compile` task, the launcher and the
 * test task grant the same permissions and enable the same unstable APIs.
 *
 * @module
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const launcher = await Deno.readTextFile(new URL("bbblb", root));

/** The flags that change what the program may do or which APIs it has. */
function runtimeFlags(command: string): string[] {
  return command.split(/\s+/).filter((w) => /^(-A|--allow-\S+|--unstable-\S+|--frozen)$/.test(w)).sort();
}

Deno.test("deno task compile uses exactly the launcher's permissions and unstable APIs", () => {
  const execLine = launcher.split("\n").find((l) => l.startsWith("exec "))!;
  assert.ok(execLine, "the launcher execs Deno");
  assert.deepEqual(runtimeFlags(config.tasks.compile), runtimeFlags(execLine));
  assert.deepEqual(runtimeFlags(execLine), ["--frozen", "--unstable-cron", "--unstable-kv", "-A"].sort());
});

Deno.test("the tests run with the same permissions and unstable APIs as the binary", () => {
  assert.ok(runtimeFlags(config.tasks.test).includes("-A"));
  // deno test takes the unstable APIs from deno.json
  assert.deepEqual([...config.unstable].sort(), ["cron", "kv"]);
  const compiled = runtimeFlags(config.tasks.compile).filter((f) => f.startsWith("--unstable-"));
  assert.deepEqual(compiled, config.unstable.map((u: string) => `--unstable-${u}`).sort());
});

Deno.test("bbblb --version prints the version in deno.json", async () => {
  const out = await new Deno.Command(new URL("bbblb", root), { args: ["--version"] }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), config.version);
});
