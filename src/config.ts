/**
 * Settings of `bbblb serve` from flags, `BBBLB_*` environment variables and an optional env-style config file
 * (`--config FILE`, env `BBBLB_CONFIG`), validated once into a typed {@linkcode ServeConfig}. Flags win over
 * the environment, the environment over the file, the file over what bbblb keeps in the store (the generated
 * API secret, see `store/settings.ts`), and that over defaults. The file is just another layer under the
 * environment: {@linkcode layeredEnv} puts it there, and {@linkcode serveConfig} reads both through one
 * function.
 *
 * @module
 */

import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from "./bbb/checksum.ts";

/** The validated settings of `bbblb serve`. */
export interface ServeConfig {
  /** The KV store: a file path or a KV Connect URL. */
  kv: string;
  /** Address to listen on. */
  host: string;
  /** Port to listen on. */
  port: number;
  /** API secrets from flags or environment (several during a rotation); empty when none was given. */
  secrets: string[];
  /** Public base URL put into the links bbblb hands out, without a trailing slash. */
  url: string;
  /** Where `rejoin` sends users of an ended meeting whose creator gave no logoutURL, or `null`. */
  logoutUrl: string | null;
  /** Seconds between poll rounds. */
  pollIntervalSeconds: number;
  /** Timeout of every call to a BBB server, in milliseconds. */
  backendTimeoutMs: number;
  /** Consecutive failed rounds (or request-path calls) after which a server is offline. */
  failThreshold: number;
  /** Consecutive good rounds after which an offline server is online again. */
  recoverThreshold: number;
  /**
   * How long a server must give no valid BBB answer before its meetings are re-created elsewhere, in ms (and a
   * probe of the meeting must fail too).
   */
  failoverDelayMs: number;
  /** How long a create may take on a BBB server before it is in doubt, in ms. */
  createTimeoutMs: number;
  /** getMeetings answers that must miss a meeting before bbblb judges it ended. */
  missedRounds: number;
  /** Log level. */
  logLevel: "debug" | "info" | "warn" | "error";
  /** Log format. */
  logFormat: "text" | "json";
  /** Bearer token required for `/metrics` and `/status`, or `null` when they are open. */
  adminToken: string | null;
  /** Whether `X-Forwarded-Host` (from the proxy in front) names the host of a request, for tenants by host. */
  trustProxy: boolean;
  /** Largest accepted request body, in bytes (slides as XML bodies); form parameter bodies stay at 2 MiB. */
  maxBodyBytes: number;
  /** Longest time one API request may take, in milliseconds; then it is answered FAILED `serverUnavailable`. */
  requestTimeoutMs: number;
  /**
   * The algorithms front-ends may sign API calls with (BBB's `supportedChecksumAlgorithms`); a checksum made with
   * another one is `checksumError`.
   */
  checksumAlgorithms: ChecksumAlgorithm[];
  /** Central custody of recordings: the directory that holds them, or `null` (recordings stay on the servers). */
  recordingsDir: string | null;
  /** How long after its removal a server may still upload recordings, in days. */
  recordingsUploadGraceDays: number;
  /** Largest accepted recording upload, in bytes. */
  maxRecordingUploadBytes: number;
  /** Whether recordIDs not in the central index are still looked up on the servers. */
  recordingsRoutedFallback: boolean;
  /** Digits of the dial-in PINs bbblb allocates (5 to 9). */
  voiceBridgeDigits: number;
  /** The dial-in gateway's phone number, forced as every new meeting's `dialNumber`, or `null` (the client's). */
  dialNumber: string | null;
  /** HTTP Basic password (user `fsapi`) of `POST /bbblb/v1/fsapi`; empty: the endpoint is off. */
  fsapiPassword: string;
  /** PINs a dial-in call may enter (and prompt tries) before it is hung up. */
  fsapiPinTries: number;
  /** How long the PIN prompt waits for digits, in milliseconds. */
  fsapiPinTimeoutMs: number;
  /** Longest dial-in call, in minutes; 0: no limit. */
  fsapiMaxDurationMinutes: number;
}

/** Raw flag values as commander parsed them (strings, or undefined when not given). */
export interface ServeFlags {
  kv?: string;
  host?: string;
  port?: string;
  secret?: string;
  url?: string;
  logoutUrl?: string;
  pollInterval?: string;
  backendTimeout?: string;
  failThreshold?: string;
  recoverThreshold?: string;
  failoverDelay?: string;
  createTimeout?: string;
  missedRounds?: string;
  logLevel?: string;
  logFormat?: string;
  adminToken?: string;
  /** `--trust-proxy` (commander gives `true`), or a value from the environment. */
  trustProxy?: boolean | string;
  maxBody?: string;
  requestTimeout?: string;
  checksumAlgorithms?: string;
  recordingsDir?: string;
  recordingsUploadGraceDays?: string;
  maxRecordingUpload?: string;
  recordingsRoutedFallback?: string;
  voiceBridgeDigits?: string;
  dialNumber?: string;
  fsapiPassword?: string;
  fsapiPinTries?: string;
  fsapiPinTimeout?: string;
  fsapiMaxDuration?: string;
}

/**
 * Settings that cannot be used. `problems` holds one sentence per bad value, each naming the flag and the
 * variable (or the file and line) and saying what is accepted; `message` joins them with "; " so the command
 * line prints them on one line.
 */
export class ConfigError extends Error {
  /** One sentence per bad value. */
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === "string" ? [problems] : problems;
    super(list.join("; "));
    this.name = "ConfigError";
    this.problems = list;
  }
}

/** Reads an environment variable; `undefined` when it is not set. */
export type Env = (name: string) => string | undefined;

/** One setting of `serve`: its variable, its flag, and whether its value is a secret (masked when shown). */
export interface SettingInfo {
  /** The environment variable, e.g. `BBBLB_PORT`. */
  env: string;
  /** The flag, e.g. `--port`. */
  flag: string;
  /** The key of {@linkcode ServeFlags}. */
  key: keyof ServeFlags;
  /** Never shown: `bbblb config` prints `********`. */
  secret: boolean;
}

/** Every setting of `serve`, in the order `bbblb config` prints them. */
export const SETTINGS: readonly SettingInfo[] = [
  ["BBBLB_KV", "--kv", "kv"],
  ["BBBLB_HOST", "--host", "host"],
  ["BBBLB_PORT", "--port", "port"],
  ["BBBLB_SECRET", "--secret", "secret", true],
  ["BBBLB_URL", "--url", "url"],
  ["BBBLB_LOGOUT_URL", "--logout-url", "logoutUrl"],
  ["BBBLB_POLL_INTERVAL", "--poll-interval", "pollInterval"],
  ["BBBLB_BACKEND_TIMEOUT", "--backend-timeout", "backendTimeout"],
  ["BBBLB_FAIL_THRESHOLD", "--fail-threshold", "failThreshold"],
  ["BBBLB_RECOVER_THRESHOLD", "--recover-threshold", "recoverThreshold"],
  ["BBBLB_FAILOVER_DELAY", "--failover-delay", "failoverDelay"],
  ["BBBLB_CREATE_TIMEOUT", "--create-timeout", "createTimeout"],
  ["BBBLB_MISSED_ROUNDS", "--missed-rounds", "missedRounds"],
  ["BBBLB_LOG_LEVEL", "--log-level", "logLevel"],
  ["BBBLB_LOG_FORMAT", "--log-format", "logFormat"],
  ["BBBLB_ADMIN_TOKEN", "--admin-token", "adminToken", true],
  ["BBBLB_TRUST_PROXY", "--trust-proxy", "trustProxy"],
  ["BBBLB_MAX_BODY", "--max-body", "maxBody"],
  ["BBBLB_REQUEST_TIMEOUT", "--request-timeout", "requestTimeout"],
  ["BBBLB_CHECKSUM_ALGORITHMS", "--checksum-algorithms", "checksumAlgorithms"],
  ["BBBLB_RECORDINGS_DIR", "--recordings-dir", "recordingsDir"],
  ["BBBLB_RECORDINGS_UPLOAD_GRACE_DAYS", "--recordings-upload-grace-days", "recordingsUploadGraceDays"],
  ["BBBLB_MAX_RECORDING_UPLOAD", "--max-recording-upload", "maxRecordingUpload"],
  ["BBBLB_RECORDINGS_ROUTED_FALLBACK", "--recordings-routed-fallback", "recordingsRoutedFallback"],
  ["BBBLB_VOICE_BRIDGE_DIGITS", "--voice-bridge-digits", "voiceBridgeDigits"],
  ["BBBLB_DIAL_NUMBER", "--dial-number", "dialNumber"],
  ["BBBLB_FSAPI_PASSWORD", "--fsapi-password", "fsapiPassword", true],
  ["BBBLB_FSAPI_PIN_TRIES", "--fsapi-pin-tries", "fsapiPinTries"],
  ["BBBLB_FSAPI_PIN_TIMEOUT", "--fsapi-pin-timeout", "fsapiPinTimeout"],
  ["BBBLB_FSAPI_MAX_DURATION", "--fsapi-max-duration", "fsapiMaxDuration"],
].map(([env, flag, key, secret]) => ({
  env: env as string,
  flag: flag as string,
  key: key as keyof ServeFlags,
  secret: secret === true,
}));

/** One value from a config file, with the line it came from (for messages and `bbblb config`). */
export interface FileValue {
  value: string;
  line: number;
}

/** A parsed config file: values by variable name (`BBBLB_` prefix added where the file left it out). */
export interface ConfigFile {
  path: string;
  values: Map<string, FileValue>;
  /**
   * Keys without the `BBBLB_` prefix that name no bbblb setting (`DENO_V8_FLAGS`, …), with their lines: left to
   * the program that reads the same file (systemd's `EnvironmentFile`), shown by `bbblb config`.
   */
  others: { key: string; line: number }[];
  /** Whether bbblb read it by default ({@linkcode DEFAULT_CONFIG_FILE}), not named by `--config`/`BBBLB_CONFIG`. */
  byDefault?: boolean;
}

/**
 * Parse an env-style config file: `KEY=VALUE` lines, the `BBBLB_` prefix optional, an optional `export `
 * before the key, values optionally in single or double quotes, blank lines and lines starting with `#`
 * ignored. A later line wins over an earlier one for the same key, as in systemd's `EnvironmentFile`, so one
 * file can serve both. A key without the prefix that names no setting is another program's (`DENO_V8_FLAGS`
 * for the service) and is kept in {@linkcode ConfigFile.others}; a `BBBLB_` key that names no setting is a typo.
 *
 * @param path only for messages
 * @throws {ConfigError} with one problem per bad line: a line that is not `KEY=VALUE`, or an unknown `BBBLB_`
 *   key (naming the key and the line)
 */
export function parseConfigFile(text: string, path: string): ConfigFile {
  const known = new Set(SETTINGS.map((s) => s.env));
  const values = new Map<string, FileValue>();
  const others: ConfigFile["others"] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const m = trimmed.match(/^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/);
    if (!m) {
      problems.push(`${path}:${line}: not a KEY=VALUE line`);
      return;
    }
    const name = m[1].toUpperCase();
    const env = name.startsWith("BBBLB_") ? name : `BBBLB_${name}`;
    if (env === "BBBLB_CONFIG") {
      problems.push(`${path}:${line}: a config file cannot name another config file (${m[1]})`);
      return;
    }
    if (!known.has(env)) {
      if (name.startsWith("BBBLB_")) problems.push(`${path}:${line}: unknown setting "${m[1]}"`);
      else others.push({ key: m[1], line });
      return;
    }
    values.set(env, { value: unquote(m[2]), line });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return { path, values, others };
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    return v.slice(1, -1).replace(/\\(["\\$`])/g, "$1");
  }
  return v;
}

/** The file every subcommand reads when neither `--config` nor `BBBLB_CONFIG` names one: the service's. */
export const DEFAULT_CONFIG_FILE = "/etc/bbblb/bbblb.env";

/**
 * The variable that replaces {@linkcode DEFAULT_CONFIG_FILE} (empty: no default file). Only for tests, which
 * must not read the real `/etc`; operators use `BBBLB_CONFIG`.
 */
export const DEFAULT_CONFIG_VARIABLE = "BBBLB_DEFAULT_CONFIG";

/** The default config file exists but this user cannot read it. */
export class ConfigUnreadableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigUnreadableError";
  }
}

/**
 * Read and parse the config file named by `--config`, else `BBBLB_CONFIG`, else {@linkcode DEFAULT_CONFIG_FILE}
 * if it exists; `null` when there is none, or when `BBBLB_CONFIG` is set but empty.
 *
 * @throws {ConfigError} when a named file cannot be read, or for its bad lines (see {@linkcode parseConfigFile})
 * @throws {ConfigUnreadableError} when the default file exists but cannot be read (not root)
 */
export async function readConfigFile(flag: string | undefined, env: Env): Promise<ConfigFile | null> {
  const path = flag ?? env("BBBLB_CONFIG");
  if (path === "") return null; // set but empty: no file (the systemd unit, whose settings systemd passes)
  if (path === undefined) {
    const fallback = env(DEFAULT_CONFIG_VARIABLE) ?? DEFAULT_CONFIG_FILE;
    if (fallback === "") return null;
    let text: string;
    try {
      text = await Deno.readTextFile(fallback);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw new ConfigUnreadableError(
        `cannot read ${fallback}, the settings of the bbblb service (${(e as Error).message}): ` +
          "run this as root, or set BBBLB_CONFIG to another file",
      );
    }
    return { ...parseConfigFile(text, fallback), byDefault: true };
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(`--config / BBBLB_CONFIG: cannot read ${path}: ${(e as Error).message}`);
  }
  return parseConfigFile(text, path);
}

/** The environment with the config file under it: a variable that is set wins over the file. */
export function layeredEnv(env: Env, file: ConfigFile | null): Env {
  if (!file) return env;
  return (name) => env(name) ?? file.values.get(name)?.value;
}

/** Where an effective setting came from, for `bbblb config`. */
export type SettingSource = "flag" | "environment" | "file" | "default";

/** The layer a setting's value comes from. */
export function sourceOf(
  setting: SettingInfo,
  flags: ServeFlags,
  env: Env,
  file: ConfigFile | null,
): { source: SettingSource; line?: number } {
  if (flags[setting.key] !== undefined) return { source: "flag" };
  if (env(setting.env) !== undefined) return { source: "environment" };
  const fromFile = file?.values.get(setting.env);
  if (fromFile) return { source: "file", line: fromFile.line };
  return { source: "default" };
}

/** The default KV path, relative to the working directory. */
export const DEFAULT_KV = "./bbblb.kv";

/** The KV path from `--kv`, else `BBBLB_KV`, else {@linkcode DEFAULT_KV}. */
export function kvPath(flag: string | undefined, env: Env): string {
  const v = flag ?? env("BBBLB_KV") ?? DEFAULT_KV;
  if (v.trim() === "") throw new ConfigError("--kv / BBBLB_KV: must not be empty");
  return v;
}

/**
 * Build the serve settings. Every value is checked, and every bad one reported, before anything starts.
 *
 * @param env reads an environment variable (injected for tests); put a config file under it with
 *   {@linkcode layeredEnv}
 * @throws {ConfigError} with one problem per bad value, each naming the flag and the variable
 */
export function serveConfig(flags: ServeFlags, env: Env): ServeConfig {
  const problems: string[] = [];
  /** Run one check; on failure note its problem and go on with a fallback, so all are reported at once. */
  const check = <T>(f: () => T, fallback: T): T => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems);
      return fallback;
    }
  };
  const pick = (flag: string | undefined, name: string) => flag ?? env(name);
  const kv = check(() => kvPath(flags.kv, env), DEFAULT_KV);
  const host = pick(flags.host, "BBBLB_HOST") ?? "127.0.0.1";
  const port = check(
    () => integer(pick(flags.port, "BBBLB_PORT") ?? "8090", "--port / BBBLB_PORT", 0, 65535),
    0,
  );
  const rawSecrets = pick(flags.secret, "BBBLB_SECRET");
  const secrets = (rawSecrets ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (rawSecrets !== undefined && rawSecrets !== "" && secrets.length === 0) {
    problems.push("--secret / BBBLB_SECRET: no secret in it (give one, or several separated by commas)");
  }
  if (secrets.some((s) => s.length < 8)) {
    problems.push("--secret / BBBLB_SECRET: each secret needs at least 8 characters");
  }
  const givenUrl = pick(flags.url, "BBBLB_URL");
  const rawUrl = givenUrl ?? `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let url = rawUrl;
  try {
    const u = new URL(rawUrl);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
    url = u.href.replace(/\/+$/, "");
  } catch {
    problems.push(
      givenUrl === undefined
        ? `--host / BBBLB_HOST: "${host}" is not a host name or address`
        : `--url / BBBLB_URL: "${rawUrl}" is not an http(s) URL`,
    );
  }
  const rawLogout = pick(flags.logoutUrl, "BBBLB_LOGOUT_URL");
  let logoutUrl: string | null = null;
  if (rawLogout !== undefined && rawLogout !== "") {
    try {
      const u = new URL(rawLogout);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
      logoutUrl = u.href;
    } catch {
      problems.push(`--logout-url / BBBLB_LOGOUT_URL: "${rawLogout}" is not an http(s) URL`);
    }
  }
  const logLevel = check(
    () =>
      oneOf(
        pick(flags.logLevel, "BBBLB_LOG_LEVEL") ?? "info",
        "--log-level / BBBLB_LOG_LEVEL",
        [
          "debug",
          "info",
          "warn",
          "error",
        ] as const,
      ),
    "info",
  );
  const logFormat = check(
    () =>
      oneOf(
        pick(flags.logFormat, "BBBLB_LOG_FORMAT") ?? "text",
        "--log-format / BBBLB_LOG_FORMAT",
        [
          "text",
          "json",
        ] as const,
      ),
    "text",
  );
  const pollIntervalSeconds = check(() =>
    number(
      pick(flags.pollInterval, "BBBLB_POLL_INTERVAL") ?? "10",
      "--poll-interval / BBBLB_POLL_INTERVAL",
      1,
      3600,
    ), 10);
  const backendTimeoutMs = 1000 * check(() =>
    number(
      pick(flags.backendTimeout, "BBBLB_BACKEND_TIMEOUT") ?? "5",
      "--backend-timeout / BBBLB_BACKEND_TIMEOUT",
      0.1,
      120,
    ), 5);
  const failThreshold = check(() =>
    integer(
      pick(flags.failThreshold, "BBBLB_FAIL_THRESHOLD") ?? "2",
      "--fail-threshold / BBBLB_FAIL_THRESHOLD",
      1,
      100,
    ), 2);
  const recoverThreshold = check(() =>
    integer(
      pick(flags.recoverThreshold, "BBBLB_RECOVER_THRESHOLD") ?? "2",
      "--recover-threshold / BBBLB_RECOVER_THRESHOLD",
      1,
      100,
    ), 2);
  const failoverDelayMs = 1000 * check(() =>
    number(
      pick(flags.failoverDelay, "BBBLB_FAILOVER_DELAY") ?? "30",
      "--failover-delay / BBBLB_FAILOVER_DELAY (seconds)",
      0,
      86_400,
    ), 30);
  const createTimeoutMs = 1000 * check(() =>
    number(
      pick(flags.createTimeout, "BBBLB_CREATE_TIMEOUT") ?? "15",
      "--create-timeout / BBBLB_CREATE_TIMEOUT (seconds)",
      0.1,
      600,
    ), 15);
  const missedRounds = check(() =>
    integer(
      pick(flags.missedRounds, "BBBLB_MISSED_ROUNDS") ?? "2",
      "--missed-rounds / BBBLB_MISSED_ROUNDS",
      1,
      100,
    ), 2);
  const rawToken = pick(flags.adminToken, "BBBLB_ADMIN_TOKEN");
  let adminToken: string | null = null;
  if (rawToken !== undefined && rawToken !== "") {
    if (rawToken.trim().length < 16 || /\s/.test(rawToken.trim())) {
      problems.push("--admin-token / BBBLB_ADMIN_TOKEN: needs at least 16 characters and no spaces");
    } else {
      adminToken = rawToken.trim();
    }
  }
  const rawTrust = flags.trustProxy ?? env("BBBLB_TRUST_PROXY");
  let trustProxy = false;
  if (rawTrust === true) trustProxy = true;
  else if (typeof rawTrust === "string") {
    const v = rawTrust.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) trustProxy = true;
    else if (!["", "0", "false", "no", "off"].includes(v)) {
      problems.push(`--trust-proxy / BBBLB_TRUST_PROXY: "${rawTrust}" is not true or false`);
    }
  }
  const maxBodyBytes = check(() =>
    integer(
      pick(flags.maxBody, "BBBLB_MAX_BODY") ?? String(DEFAULT_MAX_BODY),
      "--max-body / BBBLB_MAX_BODY (bytes)",
      1024,
      1024 ** 3,
    ), DEFAULT_MAX_BODY);
  const requestTimeoutMs = 1000 * check(() =>
    number(
      pick(flags.requestTimeout, "BBBLB_REQUEST_TIMEOUT") ?? "30",
      "--request-timeout / BBBLB_REQUEST_TIMEOUT (seconds)",
      1,
      3600,
    ), 30);
  const checksumAlgorithms = check(
    () => algorithmList(pick(flags.checksumAlgorithms, "BBBLB_CHECKSUM_ALGORITHMS")),
    [...CHECKSUM_ALGORITHMS],
  );
  const rawDir = pick(flags.recordingsDir, "BBBLB_RECORDINGS_DIR");
  const recordingsDir = rawDir === undefined || rawDir.trim() === "" ? null : rawDir.trim();
  const recordingsUploadGraceDays = check(() =>
    number(
      pick(flags.recordingsUploadGraceDays, "BBBLB_RECORDINGS_UPLOAD_GRACE_DAYS") ?? "7",
      "--recordings-upload-grace-days / BBBLB_RECORDINGS_UPLOAD_GRACE_DAYS",
      0,
      90,
    ), 7);
  const maxRecordingUploadBytes = check(() =>
    integer(
      pick(flags.maxRecordingUpload, "BBBLB_MAX_RECORDING_UPLOAD") ?? String(DEFAULT_MAX_RECORDING_UPLOAD),
      "--max-recording-upload / BBBLB_MAX_RECORDING_UPLOAD (bytes)",
      1024 * 1024,
      1024 ** 4,
    ), DEFAULT_MAX_RECORDING_UPLOAD);
  const rawFallback = pick(flags.recordingsRoutedFallback, "BBBLB_RECORDINGS_ROUTED_FALLBACK") ?? "on";
  const recordingsRoutedFallback = check(
    () => onOff(rawFallback, "--recordings-routed-fallback / BBBLB_RECORDINGS_ROUTED_FALLBACK"),
    true,
  );
  const voiceBridgeDigits = check(() =>
    integer(
      pick(flags.voiceBridgeDigits, "BBBLB_VOICE_BRIDGE_DIGITS") ?? "5",
      "--voice-bridge-digits / BBBLB_VOICE_BRIDGE_DIGITS",
      5,
      9,
    ), 5);
  const rawDial = pick(flags.dialNumber, "BBBLB_DIAL_NUMBER")?.trim() ?? "";
  if (rawDial !== "" && !/^\+?[0-9][0-9 ()./-]{0,38}$/.test(rawDial)) {
    problems.push(
      `--dial-number / BBBLB_DIAL_NUMBER: "${rawDial}" is not a phone number (digits, spaces, + ( ) . / -)`,
    );
  }
  const fsapiPassword = pick(flags.fsapiPassword, "BBBLB_FSAPI_PASSWORD") ?? "";
  if (fsapiPassword !== "" && (fsapiPassword.length < 16 || /[\s:]/.test(fsapiPassword))) {
    problems.push(
      "--fsapi-password / BBBLB_FSAPI_PASSWORD: needs at least 16 characters, no spaces and no colon",
    );
  }
  const fsapiPinTries = check(() =>
    integer(
      pick(flags.fsapiPinTries, "BBBLB_FSAPI_PIN_TRIES") ?? "3",
      "--fsapi-pin-tries / BBBLB_FSAPI_PIN_TRIES",
      1,
      10,
    ), 3);
  const fsapiPinTimeoutMs = 1000 * check(() =>
    number(
      pick(flags.fsapiPinTimeout, "BBBLB_FSAPI_PIN_TIMEOUT") ?? "7",
      "--fsapi-pin-timeout / BBBLB_FSAPI_PIN_TIMEOUT (seconds)",
      1,
      60,
    ), 7);
  const fsapiMaxDurationMinutes = check(() =>
    integer(
      pick(flags.fsapiMaxDuration, "BBBLB_FSAPI_MAX_DURATION") ?? "0",
      "--fsapi-max-duration / BBBLB_FSAPI_MAX_DURATION (minutes)",
      0,
      10_080,
    ), 0);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    kv,
    host,
    port,
    secrets,
    url,
    logoutUrl,
    pollIntervalSeconds,
    backendTimeoutMs,
    failThreshold,
    recoverThreshold,
    failoverDelayMs,
    createTimeoutMs,
    missedRounds,
    logLevel,
    logFormat,
    adminToken,
    trustProxy,
    maxBodyBytes,
    requestTimeoutMs,
    checksumAlgorithms,
    recordingsDir,
    recordingsUploadGraceDays,
    maxRecordingUploadBytes,
    recordingsRoutedFallback,
    voiceBridgeDigits,
    dialNumber: rawDial === "" ? null : rawDial,
    fsapiPassword,
    fsapiPinTries,
    fsapiPinTimeoutMs,
    fsapiMaxDurationMinutes,
  };
}

/** `--checksum-algorithms`: a comma-separated list of {@linkcode CHECKSUM_ALGORITHMS}; all four when absent. */
function algorithmList(raw: string | undefined): ChecksumAlgorithm[] {
  if (raw === undefined || raw.trim() === "") return [...CHECKSUM_ALGORITHMS];
  const list = raw.split(",").map((a) => a.trim().toLowerCase()).filter((a) => a !== "");
  const bad = list.filter((a) => !(CHECKSUM_ALGORITHMS as readonly string[]).includes(a));
  if (bad.length > 0 || list.length === 0) {
    throw new ConfigError(
      `--checksum-algorithms / BBBLB_CHECKSUM_ALGORITHMS: "${raw}" is not a comma-separated list of ` +
        CHECKSUM_ALGORITHMS.join(", "),
    );
  }
  return CHECKSUM_ALGORITHMS.filter((a) => list.includes(a));
}

/** The default of `--max-recording-upload`: 10 GiB. */
export const DEFAULT_MAX_RECORDING_UPLOAD = 10 * 1024 ** 3;

/** `on`/`off` (also true/false, yes/no, 1/0). @throws {ConfigError} otherwise */
function onOff(raw: string, what: string): boolean {
  const v = raw.trim().toLowerCase();
  if (["on", "true", "yes", "1"].includes(v)) return true;
  if (["off", "false", "no", "0"].includes(v)) return false;
  throw new ConfigError(`${what}: "${raw}" is not on or off`);
}

/** The default of `--max-body`: 32 MiB, as nginx in front of BBB allows for slides. */
export const DEFAULT_MAX_BODY = 32 * 1024 * 1024;

/** Mask for secrets in `bbblb config`. */
export const MASK = "********";

/**
 * The effective value of a setting as `bbblb config` shows it (units as in the variable), secrets masked unless
 * `showSecrets` (`bbblb config --show-secrets`).
 */
export function displayValue(setting: SettingInfo, config: ServeConfig, showSecrets = false): string {
  switch (setting.key) {
    case "kv":
      return config.kv;
    case "host":
      return config.host;
    case "port":
      return String(config.port);
    case "secret":
      return showSecrets ? config.secrets.join(",") : config.secrets.map(() => MASK).join(",");
    case "url":
      return config.url;
    case "logoutUrl":
      return config.logoutUrl ?? "";
    case "pollInterval":
      return String(config.pollIntervalSeconds);
    case "backendTimeout":
      return String(config.backendTimeoutMs / 1000);
    case "failThreshold":
      return String(config.failThreshold);
    case "recoverThreshold":
      return String(config.recoverThreshold);
    case "failoverDelay":
      return String(config.failoverDelayMs / 1000);
    case "createTimeout":
      return String(config.createTimeoutMs / 1000);
    case "missedRounds":
      return String(config.missedRounds);
    case "logLevel":
      return config.logLevel;
    case "logFormat":
      return config.logFormat;
    case "adminToken":
      return config.adminToken === null ? "" : showSecrets ? config.adminToken : MASK;
    case "trustProxy":
      return String(config.trustProxy);
    case "maxBody":
      return String(config.maxBodyBytes);
    case "requestTimeout":
      return String(config.requestTimeoutMs / 1000);
    case "checksumAlgorithms":
      return config.checksumAlgorithms.join(",");
    case "recordingsDir":
      return config.recordingsDir ?? "";
    case "recordingsUploadGraceDays":
      return String(config.recordingsUploadGraceDays);
    case "maxRecordingUpload":
      return String(config.maxRecordingUploadBytes);
    case "recordingsRoutedFallback":
      return config.recordingsRoutedFallback ? "on" : "off";
    case "voiceBridgeDigits":
      return String(config.voiceBridgeDigits);
    case "dialNumber":
      return config.dialNumber ?? "";
    case "fsapiPassword":
      return config.fsapiPassword === "" ? "" : MASK;
    case "fsapiPinTries":
      return String(config.fsapiPinTries);
    case "fsapiPinTimeout":
      return String(config.fsapiPinTimeoutMs / 1000);
    case "fsapiMaxDuration":
      return String(config.fsapiMaxDurationMinutes);
  }
}

function number(raw: string, what: string, min: number, max: number): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new ConfigError(`${what}: "${raw}" is not a number from ${min} to ${max}`);
  }
  return n;
}

function integer(raw: string, what: string, min: number, max: number): number {
  const n = number(raw, what, min, max);
  if (!Number.isInteger(n)) throw new ConfigError(`${what}: "${raw}" is not a whole number`);
  return n;
}

function oneOf<T extends string>(raw: string, what: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${what}: "${raw}" is not one of ${allowed.join(", ")}`);
  }
  return raw as T;
}
