/**
 * `bbblb sync-servers FILE`: make the registered servers match a YAML or JSON list (configuration management,
 * like Scalelite's `servers:sync`). Servers in the file are added or updated; servers missing from it are
 * cordoned (drained), or removed with `--prune` when no meeting runs there; `--dry-run` prints the plan and
 * changes nothing. Every value is validated, and every new URL or secret checked with one call, before the
 * first change. Never prints a secret.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import { normalizeApiUrl } from "../bbb/client.ts";
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from "../bbb/checksum.ts";
import {
  addServer,
  countMeetingsOn,
  listServers,
  removeServer,
  type ServerRecord,
  type ServerState,
  setServerState,
  StoreError,
  updateServer,
} from "../store/servers.ts";
import { CliError } from "./errors.ts";
import { bbbVersionOf, checkServer, displayUrl, maxMeetingsOf, tagsOf } from "./servers.ts";

/** A server as the file describes it, validated. `state` is absent when the file leaves it out. */
export interface DesiredServer {
  id: number;
  apiUrl: string;
  secret: string;
  weight: number;
  checksum: ChecksumAlgorithm;
  state?: ServerState;
  /** Placement tags; absent: left as they are (`[]` removes them). */
  tags?: string[];
  /** Meeting cap; absent: left as it is (`null` lifts it). */
  maxMeetings?: number | null;
  /** The file's `bbbVersion` (`--bbb-version`); absent: left as it is (`null` forgets it). */
  configuredVersion?: string | null;
}

/** One step of the plan. */
export type SyncStep =
  | { action: "add"; server: DesiredServer }
  | { action: "update"; id: number; change: Partial<Omit<DesiredServer, "id">> }
  | { action: "unchanged"; id: number }
  | { action: "cordon"; id: number; meetings: number; pruneRefused: boolean }
  | { action: "keep"; id: number; state: ServerState }
  | { action: "remove"; id: number };

const FIELDS = new Set([
  "id",
  "url",
  "secret",
  "weight",
  "checksum",
  "state",
  "tags",
  "maxMeetings",
  "bbbVersion",
]);
const FILE_STATES: readonly ServerState[] = ["enabled", "cordoned", "disabled"];

/**
 * Parse and validate the file's text (YAML, of which JSON is a subset): a list of servers, or an object with
 * a `servers` list.
 *
 * @param name the file name, for messages
 * @throws {CliError} (exit 2) with every problem found, each naming the entry
 */
export function parseServerList(text: string, name: string): DesiredServer[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new CliError(`${name}: not YAML or JSON: ${(e as Error).message.split("\n")[0]}`, 2);
  }
  if (raw && typeof raw === "object" && !Array.isArray(raw) && "servers" in raw) {
    raw = (raw as { servers: unknown }).servers;
  }
  if (!Array.isArray(raw)) throw new CliError(`${name}: expected a list of servers`, 2);
  const problems: string[] = [];
  const out: DesiredServer[] = [];
  raw.forEach((entry: unknown, i: number) => {
    const where = `${name}: entry ${i + 1}`;
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      problems.push(`${where} is not a mapping of id, url, secret`);
      return;
    }
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !FIELDS.has(k));
    if (unknown.length > 0) problems.push(`${where}: unknown field(s) ${unknown.join(", ")}`);
    const id = typeof e.id === "number" && Number.isInteger(e.id) && e.id >= 0 && e.id < 1e9
      ? e.id
      : typeof e.id === "string" && /^\d{1,9}$/.test(e.id)
      ? Number(e.id)
      : null;
    if (id === null) problems.push(`${where}: id must be a non-negative integer`);
    const label = id === null ? where : `${name}: server ${id}`;
    let apiUrl = "";
    if (typeof e.url !== "string") problems.push(`${label}: url is missing`);
    else {
      try {
        apiUrl = normalizeApiUrl(e.url);
      } catch (err) {
        problems.push(`${label}: ${(err as Error).message}`);
      }
    }
    if (typeof e.secret !== "string" || e.secret.trim() === "") {
      problems.push(`${label}: secret must be a non-empty string (quote it if it looks like a number)`);
    }
    const weight = e.weight === undefined ? 1 : Number(e.weight);
    if (typeof e.weight === "boolean" || !Number.isFinite(weight) || weight <= 0 || weight > 1000) {
      problems.push(`${label}: weight must be a number above 0 and at most 1000`);
    }
    const checksum = (e.checksum ?? "sha256") as ChecksumAlgorithm;
    if (!CHECKSUM_ALGORITHMS.includes(checksum)) {
      problems.push(`${label}: checksum must be one of ${CHECKSUM_ALGORITHMS.join(", ")}`);
    }
    const state = e.state as ServerState | undefined;
    if (state !== undefined && !FILE_STATES.includes(state)) {
      problems.push(`${label}: state must be one of ${FILE_STATES.join(", ")}`);
    }
    let tags: string[] | undefined;
    if (e.tags !== undefined) {
      if (!Array.isArray(e.tags) || e.tags.some((t) => typeof t !== "string")) {
        problems.push(`${label}: tags must be a list of tags`);
      } else {
        try {
          tags = tagsOf(e.tags as string[]);
        } catch (err) {
          problems.push(`${label}: ${(err as Error).message}`);
        }
      }
    }
    let maxMeetings: number | null | undefined;
    if (e.maxMeetings !== undefined) {
      try {
        maxMeetings = e.maxMeetings === null ? null : maxMeetingsOf(String(e.maxMeetings), true);
      } catch (err) {
        problems.push(`${label}: ${(err as Error).message}`);
      }
    }
    let configuredVersion: string | null | undefined;
    if (e.bbbVersion === null) configuredVersion = null;
    else if (typeof e.bbbVersion === "number") {
      problems.push(
        `${label}: bbbVersion must be quoted ("${e.bbbVersion}"): YAML reads 3.0 as the number 3`,
      );
    } else if (e.bbbVersion !== undefined) {
      try {
        configuredVersion = bbbVersionOf(String(e.bbbVersion), false);
      } catch (err) {
        problems.push(`${label}: ${(err as Error).message.replace("--bbb-version", "bbbVersion")}`);
      }
    }
    if (id !== null) {
      out.push({
        id,
        apiUrl,
        secret: String(e.secret ?? "").trim(),
        weight,
        checksum,
        state,
        tags,
        maxMeetings,
        ...(configuredVersion === undefined ? {} : { configuredVersion }),
      });
    }
  });
  const seenIds = new Set<number>();
  const seenUrls = new Map<string, number>();
  for (const s of out) {
    if (seenIds.has(s.id)) problems.push(`${name}: server ${s.id} appears twice`);
    seenIds.add(s.id);
    const twin = seenUrls.get(s.apiUrl);
    if (s.apiUrl && twin !== undefined) {
      problems.push(`${name}: servers ${twin} and ${s.id} have one URL; one BBB server, one id`);
    }
    seenUrls.set(s.apiUrl, s.id);
  }
  if (problems.length > 0) throw new CliError(problems.join("; "), 2);
  return out;
}

/**
 * The plan that makes `current` match `desired`. Pure.
 *
 * @param meetingsOn how many meetings run on a registered server (for `--prune`)
 * @throws {CliError} when a URL in the file belongs to a server that would stay registered under another id
 */
export function planSync(
  current: readonly ServerRecord[],
  desired: readonly DesiredServer[],
  prune: boolean,
  meetingsOn: ReadonlyMap<number, number>,
): SyncStep[] {
  const steps: SyncStep[] = [];
  const byId = new Map(current.map((s) => [s.id, s]));
  const wanted = new Set(desired.map((d) => d.id));
  for (const d of desired) {
    const s = byId.get(d.id);
    if (!s) {
      steps.push({ action: "add", server: d });
      continue;
    }
    const change: Partial<Omit<DesiredServer, "id">> = {};
    if (s.apiUrl !== d.apiUrl) change.apiUrl = d.apiUrl;
    if (s.secret !== d.secret) change.secret = d.secret;
    if (s.weight !== d.weight) change.weight = d.weight;
    if (s.checksum !== d.checksum) change.checksum = d.checksum;
    if (d.state !== undefined && s.state !== d.state) change.state = d.state;
    if (d.tags !== undefined && (s.tags ?? []).join("\u0000") !== d.tags.join("\u0000")) change.tags = d.tags;
    if (d.maxMeetings !== undefined && (s.maxMeetings ?? null) !== d.maxMeetings) {
      change.maxMeetings = d.maxMeetings;
    }
    if (d.configuredVersion !== undefined && (s.configuredVersion ?? null) !== d.configuredVersion) {
      change.configuredVersion = d.configuredVersion;
    }
    steps.push(
      Object.keys(change).length > 0 ? { action: "update", id: d.id, change } : {
        action: "unchanged",
        id: d.id,
      },
    );
  }
  for (const s of current) {
    if (wanted.has(s.id)) continue;
    const meetings = meetingsOn.get(s.id) ?? 0;
    if (prune && meetings === 0) steps.push({ action: "remove", id: s.id });
    else if (s.state === "enabled") steps.push({ action: "cordon", id: s.id, meetings, pruneRefused: prune });
    else steps.push({ action: "keep", id: s.id, state: s.state });
  }
  // One BBB server, one id: a URL may not stay registered under two ids.
  const remaining = new Map<string, number>();
  for (const s of current) {
    const removed = steps.some((st) => st.action === "remove" && st.id === s.id);
    if (!removed && !wanted.has(s.id)) remaining.set(s.apiUrl, s.id);
  }
  for (const d of desired) {
    const other = remaining.get(d.apiUrl);
    if (other !== undefined) {
      throw new CliError(
        `server ${d.id}: ${
          displayUrl(d.apiUrl)
        } is registered as server ${other}, which is not in the file and ` +
          `stays registered; give it id ${other} in the file, or remove server ${other} first`,
      );
    }
  }
  return steps.sort((a, b) => idOf(a) - idOf(b));
}

function idOf(step: SyncStep): number {
  return step.action === "add" ? step.server.id : step.id;
}

/** One line of the plan for people. Never a secret. */
export function describeStep(step: SyncStep): string {
  switch (step.action) {
    case "add":
      return `add server ${step.server.id} (${displayUrl(step.server.apiUrl)}), ${
        step.server.state ?? "enabled"
      }, weight ${step.server.weight}`;
    case "update": {
      const what = Object.entries(step.change).map(([k, v]) =>
        k === "secret"
          ? "secret"
          : k === "apiUrl"
          ? `url ${displayUrl(String(v))}`
          : k === "configuredVersion"
          ? `bbbVersion ${v ?? "none"}`
          : `${k} ${v}`
      );
      return `update server ${step.id}: ${what.join(", ")}`;
    }
    case "unchanged":
      return `server ${step.id} unchanged`;
    case "cordon":
      return step.pruneRefused
        ? `cordon server ${step.id} (not in the file; ${step.meetings} meeting(s) run there, so --prune does not remove it)`
        : `cordon server ${step.id} (not in the file)`;
    case "keep":
      return `server ${step.id} not in the file, stays ${step.state}`;
    case "remove":
      return `remove server ${step.id} (not in the file)`;
  }
}

/** Options of {@linkcode syncServersCommand}. */
export interface SyncOptions {
  /** The file's text and name. */
  text: string;
  name: string;
  prune: boolean;
  dryRun: boolean;
  /** Check new URLs and secrets with one call each, like `add-server`. */
  check: boolean;
  /** Timeout of each check call, in ms. */
  timeoutMs: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Plan, check and apply. With `dryRun`, only plan.
 *
 * @returns the lines to print: the plan, then a summary
 * @throws {CliError} for a bad file (exit 2), or a failed check (exit 1; nothing was changed)
 */
export async function syncServersCommand(kv: Deno.Kv, o: SyncOptions): Promise<string> {
  const desired = parseServerList(o.text, o.name);
  const current = await listServers(kv);
  const meetingsOn = new Map<number, number>();
  for (const s of current) meetingsOn.set(s.id, await countMeetingsOn(kv, s.id));
  const steps = planSync(current, desired, o.prune, meetingsOn);
  const lines = steps.map(describeStep);
  const count = (a: SyncStep["action"]) => steps.filter((s) => s.action === a).length;
  const summary = `${count("add")} to add, ${count("update")} to update, ${count("cordon")} to cordon, ${
    count("remove")
  } to remove, ${count("unchanged") + count("keep")} unchanged`;
  if (o.dryRun) return [...lines, `dry run: ${summary}; nothing changed`].join("\n");

  if (o.check) {
    for (const step of steps) {
      if (step.action === "add") await checkServer(step.server, o.timeoutMs);
      if (step.action === "update" && (step.change.apiUrl || step.change.secret || step.change.checksum)) {
        const s = current.find((c) => c.id === step.id)!;
        await checkServer({ ...s, ...step.change }, o.timeoutMs);
      }
    }
  }
  const now = o.now ?? Date.now;
  for (const step of steps) {
    switch (step.action) {
      case "add": {
        const { state, ...rest } = step.server;
        await addServer(kv, { ...rest, state: state ?? "enabled", addedAt: now() });
        break;
      }
      case "update": {
        const { state, ...change } = step.change;
        if (Object.keys(change).length > 0) await updateServer(kv, step.id, change);
        if (state) await setServerState(kv, step.id, state);
        break;
      }
      case "cordon":
        await setServerState(kv, step.id, "cordoned");
        break;
      case "remove":
        try {
          await removeServer(kv, step.id, false);
        } catch (e) {
          if (!(e instanceof StoreError)) throw e;
          // A meeting started there since the plan was made: drain it instead.
          await setServerState(kv, step.id, "cordoned");
          lines[steps.indexOf(step)] =
            `cordon server ${step.id} (a meeting started there meanwhile; not removed)`;
        }
        break;
    }
  }
  return [...lines, `synced: ${summary.replaceAll(" to ", " ")}`].join("\n");
}
