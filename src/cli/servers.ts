/**
 * Admin subcommands for servers: add-server, list-servers, enable, disable, remove-server.
 * Thin: parse, call the store and the BBB client, print.
 *
 * @module
 */
import { BackendError, callBackend, normalizeApiUrl } from "../bbb/client.ts";
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from "../bbb/checksum.ts";
import {
  addServer,
  countMeetingsOn,
  getServer,
  listServers,
  removeServer,
  type ServerState,
  serverVersion,
  setServerState,
  updateServer,
  versionSource,
} from "../store/servers.ts";
import { isBbbVersion } from "../cluster/versions.ts";
import { CliError } from "./errors.ts";
import { StoreUnavailableError } from "../store/kv.ts";

/** Options of {@linkcode addServerCommand}. */
export interface AddServerOptions {
  id: string;
  url: string;
  /** The secret, or `-` to read it from standard input. */
  secret: string;
  weight?: string;
  /** Placement tags (`--tag`, repeatable). */
  tags?: string[];
  disabled?: boolean;
  checksum?: string;
  /** `--hooks-checksum`: what calls to the server's webhooks module are signed with (absent: SHA-1). */
  hooksChecksum?: string;
  /** `--max-meetings`: a whole number, or absent for no cap. */
  maxMeetings?: string;
  /** `--bbb-version`: the BBB version it runs (`3.0`), for a server that does not reveal it. */
  bbbVersion?: string;
  /** Skip the call that checks URL and secret. */
  check: boolean;
  /** Timeout of the check call, in ms. */
  timeoutMs: number;
  /** Reads standard input (for `-`). */
  readStdin: () => Promise<string>;
}

/**
 * Register a server after one `getMeetings` call that proves the URL and the secret.
 *
 * @returns the line to print
 * @throws {CliError} for a bad id, URL, weight or checksum, a taken id, or a failed check
 */
export async function addServerCommand(kv: Deno.Kv, o: AddServerOptions): Promise<string> {
  const id = serverId(o.id);
  const apiUrl = apiUrlOf(o.url);
  const secret = await secretOf(o.secret, o.readStdin);
  const weight = weightOf(o.weight ?? "1");
  const checksum = checksumOf(o.checksum ?? "sha256");
  const hooksChecksum = o.hooksChecksum === undefined
    ? undefined
    : checksumOf(o.hooksChecksum, "--hooks-checksum");
  const tags = tagsOf(o.tags ?? []);
  const maxMeetings = o.maxMeetings === undefined ? null : maxMeetingsOf(o.maxMeetings, false);
  const configuredVersion = o.bbbVersion === undefined ? null : bbbVersionOf(o.bbbVersion, false);
  if (await getServer(kv, id)) {
    throw new CliError(`server ${id} already exists; change it with bbblb set-server ${id}`);
  }
  const twin = (await listServers(kv)).find((s) => s.apiUrl === apiUrl);
  if (twin) {
    throw new CliError(
      `${displayUrl(apiUrl)} is already registered as server ${twin.id}; one BBB server, one id`,
    );
  }
  if (o.check) await checkServer({ apiUrl, secret, checksum }, o.timeoutMs);
  try {
    await addServer(kv, {
      id,
      apiUrl,
      secret,
      weight,
      checksum,
      state: o.disabled ? "disabled" : "enabled",
      addedAt: Date.now(),
      ...(tags.length > 0 ? { tags } : {}),
      ...(maxMeetings === null ? {} : { maxMeetings }),
      ...(hooksChecksum === undefined ? {} : { hooksChecksum }),
      ...(configuredVersion === null ? {} : { configuredVersion }),
    });
  } catch (e) {
    if (e instanceof StoreUnavailableError) throw e; // main.ts says what is wrong with the store
    throw new CliError((e as Error).message);
  }
  return `added server ${id} (${displayUrl(apiUrl)}), ${
    o.disabled ? "disabled" : "enabled"
  }, weight ${weight}${tags.length > 0 ? `, tags ${tags.join(", ")}` : ""}${
    maxMeetings === null ? "" : `, at most ${maxMeetings} meetings`
  }${configuredVersion === null ? "" : `, BBB ${configuredVersion}`}`;
}

/**
 * Parse `--bbb-version`: a BBB version as `3.0`, `3.0.34` or `4.0.0-beta.5` (at least major and minor), or
 * (for `set-server`) `none` to forget it.
 *
 * @returns the version as given (trimmed), or `null` for `none`
 * @throws {CliError} (exit 2) naming the flag and what it accepts
 */
export function bbbVersionOf(raw: string, noneAllowed: boolean): string | null {
  const v = raw.trim();
  if (noneAllowed && v.toLowerCase() === "none") return null;
  if (!isBbbVersion(v)) {
    throw new CliError(
      `--bbb-version: "${raw}" is not a BBB version such as 3.0 or 3.0.34${
        noneAllowed ? ' (or "none")' : ""
      }`,
      2,
    );
  }
  return v;
}

/** Largest meeting cap accepted. */
const MAX_CAP = 1_000_000;

/**
 * Parse `--max-meetings`: a whole number from 1 to 1,000,000, or (for `set-server`) `none` to lift the cap.
 *
 * @returns the cap, or `null` for `none`
 * @throws {CliError} (exit 2) naming the flag and what it accepts
 */
export function maxMeetingsOf(raw: string, noneAllowed: boolean): number | null {
  if (noneAllowed && raw.trim().toLowerCase() === "none") return null;
  if (!/^\d{1,7}$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > MAX_CAP) {
    throw new CliError(
      `--max-meetings: "${raw}" is not a whole number from 1 to ${MAX_CAP}${
        noneAllowed ? ' (or "none")' : ""
      }`,
      2,
    );
  }
  return Number(raw);
}

function apiUrlOf(raw: string): string {
  try {
    return normalizeApiUrl(raw);
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
}

async function secretOf(raw: string, readStdin: () => Promise<string>): Promise<string> {
  const secret = (raw === "-" ? await readStdin() : raw).trim();
  if (secret === "") throw new CliError("the secret is empty", 2);
  return secret;
}

/**
 * Placement tags: letters, digits, `.`, `_` and `-` (no `;` or `!`, which `meta_server-tag` uses); `none` is
 * reserved (it asks for untagged servers).
 *
 * @throws {CliError} exit 2 for a tag that is not allowed
 */
export function tagsOf(raw: string[]): string[] {
  for (const t of raw) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(t) || t === "none") {
      throw new CliError(`--tag: "${t}" is not a tag (letters, digits, . _ -; "none" is reserved)`, 2);
    }
  }
  return [...new Set(raw)];
}

function weightOf(raw: string): number {
  const weight = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(weight) || weight <= 0 || weight > 1000) {
    throw new CliError(`--weight: "${raw}" is not a number above 0 and at most 1000`, 2);
  }
  return weight;
}

function checksumOf(raw: string, flag = "--checksum"): ChecksumAlgorithm {
  if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(raw)) {
    throw new CliError(`${flag}: "${raw}" is not one of ${CHECKSUM_ALGORITHMS.join(", ")}`, 2);
  }
  return raw as ChecksumAlgorithm;
}

/** Options of {@linkcode setServerCommand}; absent fields stay as they are. */
export interface SetServerOptions {
  id: string;
  url?: string;
  /** The new secret, or `-` to read it from standard input. */
  secret?: string;
  weight?: string;
  checksum?: string;
  /** `--hooks-checksum`: what calls to the server's webhooks module are signed with. */
  hooksChecksum?: string;
  /** New placement tags (replacing the old ones); `[]` with `clearTags` removes them. */
  tags?: string[];
  /** Remove every tag. */
  clearTags?: boolean;
  /** `--max-meetings`: a whole number, or `none` to lift the cap. */
  maxMeetings?: string;
  /** `--bbb-version`: the BBB version it runs, or `none` to forget it. */
  bbbVersion?: string;
  check: boolean;
  timeoutMs: number;
  readStdin: () => Promise<string>;
}

/**
 * `set-server`: change a server's URL, secret, weight, checksum algorithm or meeting cap while it runs meetings
 * (for a secret rotation on the BBB server, or a new weight). A lower cap never ends a meeting: the server just
 * takes no new ones until it is below the cap. A new URL, secret or algorithm is checked with one call
 * first, like `add-server`.
 */
export async function setServerCommand(kv: Deno.Kv, o: SetServerOptions): Promise<string> {
  const id = serverId(o.id);
  const current = await getServer(kv, id);
  if (!current) throw new CliError(`there is no server ${id}`);
  const change: Parameters<typeof updateServer>[2] = {};
  if (o.url !== undefined) change.apiUrl = apiUrlOf(o.url);
  if (o.secret !== undefined) change.secret = await secretOf(o.secret, o.readStdin);
  if (o.weight !== undefined) change.weight = weightOf(o.weight);
  if (o.checksum !== undefined) change.checksum = checksumOf(o.checksum);
  if (o.hooksChecksum !== undefined) change.hooksChecksum = checksumOf(o.hooksChecksum, "--hooks-checksum");
  if (o.clearTags) change.tags = [];
  else if (o.tags !== undefined && o.tags.length > 0) change.tags = tagsOf(o.tags);
  if (o.maxMeetings !== undefined) change.maxMeetings = maxMeetingsOf(o.maxMeetings, true);
  if (o.bbbVersion !== undefined) change.configuredVersion = bbbVersionOf(o.bbbVersion, true);
  if (Object.keys(change).length === 0) {
    throw new CliError(
      "nothing to change: give --url, --secret, --weight, --checksum, --hooks-checksum, --tag, --no-tags, " +
        "--max-meetings or --bbb-version",
      2,
    );
  }
  if (change.apiUrl) {
    const twin = (await listServers(kv)).find((s) => s.apiUrl === change.apiUrl && s.id !== id);
    if (twin) throw new CliError(`${displayUrl(change.apiUrl)} is already registered as server ${twin.id}`);
  }
  const next = { ...current, ...change };
  if (o.check && (change.apiUrl || change.secret || change.checksum)) await checkServer(next, o.timeoutMs);
  await updateServer(kv, id, change);
  const what = Object.keys(change).map((
    k,
  ) => (k === "apiUrl"
    ? "url"
    : k === "maxMeetings"
    ? "max-meetings"
    : k === "hooksChecksum"
    ? "hooks-checksum"
    : k === "configuredVersion"
    ? "bbb-version"
    : k)
  )
    .join(", ");
  return `server ${id}: changed ${what}`;
}

/**
 * One `getMeetings` call that proves a URL and a secret, as `add-server` makes it.
 *
 * @throws {CliError} naming what failed (unreachable, not a BBB API, wrong secret)
 */
export async function checkServer(
  backend: { apiUrl: string; secret: string; checksum: ChecksumAlgorithm },
  timeoutMs: number,
) {
  const url = displayUrl(backend.apiUrl);
  let answer;
  try {
    answer = await callBackend(backend, "getMeetings", "", { timeoutMs });
  } catch (e) {
    const kind = e instanceof BackendError ? e.kind : "unreachable";
    const why = kind === "http" || kind === "invalid"
      ? `${url} did not answer like a BBB API (${
        (e as Error).message
      }); give the URL as bbb-conf --secret prints it`
      : `cannot reach ${url}: ${(e as Error).message}`;
    throw new CliError(`${why} (--no-check skips this check)`);
  }
  if (answer.response.messageKey === "checksumError") {
    throw new CliError(`the secret is wrong for ${url}: the server answered checksumError`);
  }
  if (answer.response.returncode !== "SUCCESS") {
    throw new CliError(`${url} refused the check call: ${answer.response.messageKey ?? "FAILED"}`);
  }
}

/** The server URL as `bbb-conf --secret` prints it, from the stored API base. */
export function displayUrl(apiUrl: string): string {
  return apiUrl.replace(/api\/$/, "");
}

/**
 * Parse a server id: a non-negative integer.
 *
 * @throws {CliError} otherwise
 */
export function serverId(raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw new CliError(`"${raw}" is not a server id (a non-negative integer)`, 2);
  return Number(raw);
}

/** One row of `list-servers --json`. Never a secret. */
export interface ServerRow {
  id: number;
  url: string;
  state: ServerState;
  online: boolean;
  meetings: number;
  /** Sum of the declared load of its meetings. */
  load: number;
  /** Sum over its meetings of max(declared load, live participants + video streams): what placement uses. */
  effectiveLoad: number;
  /** Participants in all meetings there, breakout rooms included (from the last good poll). */
  participants: number;
  weight: number;
  /** The meeting cap (`--max-meetings`), or null for none. */
  maxMeetings: number | null;
  checksum: ChecksumAlgorithm;
  /** What calls to its webhooks module are signed with (`--hooks-checksum`; SHA-1 unless set). */
  hooksChecksum: ChecksumAlgorithm;
  /** Placement tags (empty: untagged). */
  tags: string[];
  /** The BBB version bbblb goes by (revealed by the server, else `--bbb-version`), or null when unknown. */
  bbbVersion: string | null;
  /** Where `bbbVersion` comes from: `revealed` (the server's API root), `configured` (`--bbb-version`), or null. */
  versionSource: "revealed" | "configured" | null;
  /** The last failure, or null after a good poll. */
  lastError: string | null;
  /** When the last good poll ended (ISO 8601), or null. */
  lastGoodPoll: string | null;
}

/** The rows of `list-servers`, ordered by id. */
export async function serverRows(kv: Deno.Kv): Promise<ServerRow[]> {
  const servers = await listServers(kv);
  return await Promise.all(servers.map(async (s) => ({
    id: s.id,
    url: displayUrl(s.apiUrl),
    state: s.state,
    online: s.online,
    meetings: await countMeetingsOn(kv, s.id),
    load: s.loadMilli / 1000,
    effectiveLoad: (s.loadMilli + s.stats.extraMilli) / 1000,
    participants: s.stats.participants,
    weight: s.weight,
    maxMeetings: s.maxMeetings ?? null,
    checksum: s.checksum,
    hooksChecksum: s.hooksChecksum ?? "sha1",
    tags: s.tags ?? [],
    bbbVersion: serverVersion(s),
    versionSource: versionSource(s),
    lastError: s.health.lastError,
    lastGoodPoll: s.health.lastGoodPoll === null ? null : new Date(s.health.lastGoodPoll).toISOString(),
  })));
}

/** `list-servers`: a table for people, or JSON for tools. */
export async function listServersCommand(kv: Deno.Kv, json: boolean): Promise<string> {
  const rows = await serverRows(kv);
  if (json) return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return "no servers; add one with: bbblb add-server ID URL SECRET";
  const table = [
    [
      "ID",
      "URL",
      "STATE",
      "ONLINE",
      "MEETINGS",
      "PARTICIPANTS",
      "LOAD",
      "EFFECTIVE",
      "WEIGHT",
      "MAX",
      "CHECKSUM",
      "VERSION",
      "TAGS",
      "LAST ERROR",
    ],
    ...rows.map((r) => [
      String(r.id),
      r.url,
      r.state,
      r.online ? "yes" : "no",
      String(r.meetings),
      String(r.participants),
      String(r.load),
      String(r.effectiveLoad),
      String(r.weight),
      r.maxMeetings === null ? "-" : String(r.maxMeetings),
      r.checksum,
      r.bbbVersion === null ? "-" : r.versionSource === "configured" ? `${r.bbbVersion}*` : r.bbbVersion,
      r.tags.join(",") || "-",
      r.lastError ?? "",
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/** `enable` / `disable` (and later states): set the admin state of a server. */
export async function setStateCommand(kv: Deno.Kv, rawId: string, state: ServerState): Promise<string> {
  const id = serverId(rawId);
  try {
    await setServerState(kv, id, state);
  } catch (e) {
    if (e instanceof StoreUnavailableError) throw e; // main.ts says what is wrong with the store
    throw new CliError((e as Error).message);
  }
  return `server ${id} is ${state}`;
}

/** `remove-server`: refuses while meetings run there unless `force`. */
export async function removeServerCommand(kv: Deno.Kv, rawId: string, force: boolean): Promise<string> {
  const id = serverId(rawId);
  try {
    const { forgotten } = await removeServer(kv, id, force);
    return forgotten > 0
      ? `removed server ${id}; forgot ${forgotten} meeting(s) (not ended)`
      : `removed server ${id}`;
  } catch (e) {
    if (e instanceof StoreUnavailableError) throw e; // main.ts says what is wrong with the store
    throw new CliError((e as Error).message);
  }
}
