import assert from "node:assert/strict";
import { findCycles } from "./cycles.ts";

const mod = (name: string, code: string[] = [], type: string[] = []) => ({
  specifier: `file:///p/${name}`,
  dependencies: [
    ...code.map((c) => ({ code: { specifier: `file:///p/${c}` } })),
    ...type.map((t) => ({ type: { specifier: `file:///p/${t}` } })),
  ],
});

Deno.test("findCycles() finds a cycle closed by an import type, and none in a graph that runs one way", () => {
  assert.deepEqual(findCycles([mod("a.ts", ["b.ts"]), mod("b.ts", ["c.ts"]), mod("c.ts")], "file:///p/"), []);
  assert.deepEqual(
    findCycles([
      mod("a.ts", ["b.ts"]),
      mod("b.ts", ["c.ts"]),
      mod("c.ts", [], ["a.ts"]),
      mod("d.ts", ["a.ts"]),
    ], "file:///p/"),
    [["file:///p/a.ts", "file:///p/b.ts", "file:///p/c.ts"]],
  );
});

Deno.test("findCycles() ignores modules outside the prefix (npm packages may have their own cycles)", () => {
  const npm = { specifier: "npm:/x/a.js", dependencies: [{ code: { specifier: "npm:/x/a.js" } }] };
  assert.deepEqual(findCycles([npm, mod("a.ts", ["a.ts"])], "file:///p/"), [["file:///p/a.ts"]]);
});

Deno.test("bbblb's own modules have no import cycle", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", "build/cycles.ts", "main.ts", "tests/harness.ts"],
    cwd: new URL("../", import.meta.url).pathname,
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
});
