/**
 * The BBB version of each server, as the server reveals it in its API root. bbb-web fills `bbbVersion` of
 * `GET /bigbluebutton/api` only with `allowRevealOfBBBVersion=true` (reference/bbb-api.md §3.1); otherwise the
 * operator's `--bbb-version` is what bbblb goes by (`serverVersion` of `store/servers.ts`). The poller reads the
 * root of each server that answered its round, at most every {@linkcode VERSION_CHECK_MS}, and stores a change.
 *
 * @module
 */
import { callBackend } from "../bbb/client.ts";
import type { Logger } from "../log.ts";
import { parseBbbVersion } from "../balancer/placement.ts";
import { type ServerView, updateServer } from "../store/servers.ts";
import { mapLimit } from "./map_limit.ts";

/** How often a server's API root is read again, in ms (a server is upgraded rarely). */
export const VERSION_CHECK_MS = 10 * 60 * 1000;

/** Whether a text is a BBB version bbblb can place by (`3.0`, `3.0.34`, `4.0.0-beta.5`; at most 64 characters). */
export function isBbbVersion(value: string): boolean {
  return value.length <= 64 && parseBbbVersion(value) !== null;
}

/** What {@linkcode refreshVersions} needs. */
export interface VersionDeps {
  kv: Deno.Kv;
  /** Timeout of the call, in ms. */
  backendTimeoutMs: number;
  fetch?: typeof fetch;
  log: Logger;
  /** @default Date.now */
  now?: () => number;
}

/**
 * The version a server reveals in its API root: the `bbbVersion` text when it is a version
 * (`parseBbbVersion`), `null` when the server hides it (empty) or gives something else, `undefined` when the
 * root could not be read (the stored version stays).
 */
export async function readRevealedVersion(
  deps: Pick<VersionDeps, "backendTimeoutMs" | "fetch">,
  server: ServerView,
): Promise<string | null | undefined> {
  try {
    const answer = await callBackend(server, "", "", { timeoutMs: deps.backendTimeoutMs, fetch: deps.fetch });
    if (answer.response.returncode !== "SUCCESS") return undefined;
    const v = typeof answer.response.bbbVersion === "string" ? answer.response.bbbVersion.trim() : "";
    return isBbbVersion(v) ? v : null;
  } catch {
    return undefined;
  }
}

/**
 * Read the API root of `servers` not read for {@linkcode VERSION_CHECK_MS} (per `checked`, the time of each
 * server's last read in this process) and store the revealed versions that changed, logging each change.
 */
export async function refreshVersions(
  deps: VersionDeps,
  servers: readonly ServerView[],
  checked: Map<number, number>,
): Promise<void> {
  const now = (deps.now ?? Date.now)();
  const due = servers.filter((s) => now - (checked.get(s.id) ?? -Infinity) >= VERSION_CHECK_MS);
  await mapLimit(due, 20, async (s) => {
    const revealed = await readRevealedVersion(deps, s);
    if (revealed === undefined) return;
    checked.set(s.id, now);
    if (revealed === (s.revealedVersion ?? null)) return;
    try {
      await updateServer(deps.kv, s.id, { revealedVersion: revealed });
    } catch {
      return; // removed meanwhile
    }
    deps.log.info("server BBB version", { server: s.id, version: revealed ?? "not revealed" });
  });
}
