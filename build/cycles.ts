/**
 * Import cycles between bbblb's own modules, `import type` included (a type cycle is still two modules that
 * cannot be understood apart), found in the module graph `deno info --json` prints. Run as a script it checks
 * `main.ts` and exits 1 naming every cycle; the `ok` task and CI run it.
 *
 * @module
 */

/** A module of `deno info --json`, as far as this check reads it. */
export interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/**
 * The import cycles among the modules whose specifier starts with `prefix`: each strongly connected component of
 * more than one module (or a module importing itself), its modules sorted.
 *
 * @example
 * ```ts
 * import { findCycles } from "./cycles.ts";
 * const cycles = findCycles([
 *   { specifier: "file:///p/a.ts", dependencies: [{ code: { specifier: "file:///p/b.ts" } }] },
 *   { specifier: "file:///p/b.ts", dependencies: [{ type: { specifier: "file:///p/a.ts" } }] },
 * ], "file:///p/");
 * if (cycles.length !== 1 || cycles[0].length !== 2) throw new Error();
 * ```
 */
export function findCycles(modules: readonly InfoModule[], prefix: string): string[][] {
  const edges = new Map<string, string[]>();
  for (const m of modules) {
    if (!m.specifier.startsWith(prefix)) continue;
    const to = (m.dependencies ?? [])
      .flatMap((d) => [d.code?.specifier, d.type?.specifier])
      .filter((s): s is string => s !== undefined && s.startsWith(prefix));
    edges.set(m.specifier, [...new Set(to)]);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url).href;
  const entries = Deno.args.length > 0 ? Deno.args : ["main.ts"];
  const found = new Set<string>();
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: new URL(root).pathname,
    }).output();
    if (!out.success) {
      console.error(`cycles: deno info ${entry} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
      Deno.exit(1);
    }
    const { modules } = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    for (const c of findCycles(modules, root)) found.add(c.map((s) => s.slice(root.length)).join(" -> "));
  }
  for (const c of found) console.error(`import cycle: ${c}`);
  if (found.size > 0) Deno.exit(1);
  console.log(`no import cycles among bbblb's modules (${entries.join(", ")})`);
}
