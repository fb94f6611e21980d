/**
 * Tests that need something of the machine (a Debian tool, root): on a developer's machine without it, such a
 * test is reported as *ignored* with the reason in its name (`… [ignored: chromium is missing: apt-get install
 * chromium]`), never as passed; `.ci/run` installs the tools, runs as root, and fails when any test was ignored.
 *
 * @module
 */

/** A program a test runs, and the Debian package that brings it. */
export interface Tool {
  /** The command, looked up on PATH and in /usr/sbin and /sbin (where nginx lives). */
  command: string;
  /** The Debian package to install. */
  pkg: string;
}

/** What a test needs. */
export interface Needs {
  /** Programs it runs. */
  tools?: readonly Tool[];
  /** Files that must exist (e.g. `/usr/bin/chromium`, which playwright-core drives), with their package. */
  files?: readonly { path: string; pkg: string }[];
  /** Why it needs root, when it does (mounting a tmpfs, file attributes). */
  root?: string;
}

/** The full path of `command`, or `null` when no directory on PATH (or /usr/sbin, /sbin) has it. */
export function which(command: string): string | null {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin"].filter((d) => d !== "");
  for (const dir of dirs) {
    try {
      const stat = Deno.statSync(`${dir}/${command}`);
      if (stat.isFile && (stat.mode ?? 0o111) & 0o111) return `${dir}/${command}`;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** Why a test cannot run here, or `null` when it can. */
export function missing(needs: Needs): string | null {
  const reasons: string[] = [];
  if (needs.root && Deno.uid() !== 0) reasons.push(`it needs root (${needs.root})`);
  for (const tool of needs.tools ?? []) {
    if (which(tool.command) === null) reasons.push(`${tool.command} is missing: apt-get install ${tool.pkg}`);
  }
  for (const file of needs.files ?? []) {
    const found = (() => {
      try {
        return Deno.statSync(file.path).isFile;
      } catch {
        return false;
      }
    })();
    if (!found) reasons.push(`${file.path} is missing: apt-get install ${file.pkg}`);
  }
  return reasons.length > 0 ? reasons.join("; ") : null;
}

/**
 * A test definition that is ignored, with the reason in its name, when the machine lacks what it needs.
 *
 * @example
 * ```ts
 * import { needing } from "./requirements.ts";
 * // Used as `Deno.test(needing({ tools: [SYSTEMD_ANALYZE] }, "the unit is valid", async () => {…}))`:
 * const needs = { tools: [{ command: "no-such-tool", pkg: "no-such-pkg" }] };
 * const test = needing(needs, "it runs", () => {});
 * const reason = "no-such-tool is missing: apt-get install no-such-pkg";
 * if (!test.ignore || test.name !== `it runs [ignored: ${reason}]`) throw new Error(test.name);
 * ```
 */
export function needing(needs: Needs, name: string, fn: () => Promise<void> | void): Deno.TestDefinition {
  const reason = missing(needs);
  return reason === null ? { name, fn } : { name: `${name} [ignored: ${reason}]`, fn, ignore: true };
}

/** `systemd-analyze`, from Debian's `systemd`. */
export const SYSTEMD_ANALYZE: Tool = { command: "systemd-analyze", pkg: "systemd" };
