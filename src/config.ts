/**
 * Settings of `bbblb serve` from flags and `BBBLB_*` environment variables, validated once into a typed
 * {@linkcode ServeConfig}. Flags win over the environment, the environment over defaults.
 *
 * @module
 */

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
  /** Log level. */
  logLevel: "debug" | "info" | "warn" | "error";
  /** Log format. */
  logFormat: "text" | "json";
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
  logLevel?: string;
  logFormat?: string;
}

/** A setting that cannot be used; the message names it and says what is accepted. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The default KV path, relative to the working directory. */
export const DEFAULT_KV = "./bbblb.kv";

/** The KV path from `--kv`, else `BBBLB_KV`, else {@linkcode DEFAULT_KV}. */
export function kvPath(flag: string | undefined, env: (name: string) => string | undefined): string {
  const v = flag ?? env("BBBLB_KV") ?? DEFAULT_KV;
  if (v.trim() === "") throw new ConfigError("--kv / BBBLB_KV: must not be empty");
  return v;
}

/**
 * Build the serve settings.
 *
 * @param env reads an environment variable (injected for tests)
 * @throws {ConfigError} for the first bad value, naming the flag and the variable
 */
export function serveConfig(flags: ServeFlags, env: (name: string) => string | undefined): ServeConfig {
  const pick = (flag: string | undefined, name: string) => flag ?? env(name);
  const host = pick(flags.host, "BBBLB_HOST") ?? "127.0.0.1";
  const port = integer(pick(flags.port, "BBBLB_PORT") ?? "8090", "--port / BBBLB_PORT", 0, 65535);
  const rawSecrets = pick(flags.secret, "BBBLB_SECRET");
  const secrets = (rawSecrets ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (rawSecrets !== undefined && rawSecrets !== "" && secrets.length === 0) {
    throw new ConfigError(
      "--secret / BBBLB_SECRET: no secret in it (give one, or several separated by commas)",
    );
  }
  for (const s of secrets) {
    if (s.length < 8) {
      throw new ConfigError("--secret / BBBLB_SECRET: each secret needs at least 8 characters");
    }
  }
  const givenUrl = pick(flags.url, "BBBLB_URL");
  const rawUrl = givenUrl ?? `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let url: string;
  try {
    const u = new URL(rawUrl);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
    url = u.href.replace(/\/+$/, "");
  } catch {
    throw new ConfigError(
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
      throw new ConfigError(`--logout-url / BBBLB_LOGOUT_URL: "${rawLogout}" is not an http(s) URL`);
    }
  }
  const logLevel = oneOf(
    pick(flags.logLevel, "BBBLB_LOG_LEVEL") ?? "info",
    "--log-level / BBBLB_LOG_LEVEL",
    [
      "debug",
      "info",
      "warn",
      "error",
    ] as const,
  );
  const logFormat = oneOf(
    pick(flags.logFormat, "BBBLB_LOG_FORMAT") ?? "text",
    "--log-format / BBBLB_LOG_FORMAT",
    [
      "text",
      "json",
    ] as const,
  );
  return {
    kv: kvPath(flags.kv, env),
    host,
    port,
    secrets,
    url,
    logoutUrl,
    pollIntervalSeconds: number(
      pick(flags.pollInterval, "BBBLB_POLL_INTERVAL") ?? "10",
      "--poll-interval / BBBLB_POLL_INTERVAL",
      1,
      3600,
    ),
    backendTimeoutMs: 1000 * number(
      pick(flags.backendTimeout, "BBBLB_BACKEND_TIMEOUT") ?? "5",
      "--backend-timeout / BBBLB_BACKEND_TIMEOUT",
      0.1,
      120,
    ),
    failThreshold: integer(
      pick(flags.failThreshold, "BBBLB_FAIL_THRESHOLD") ?? "2",
      "--fail-threshold / BBBLB_FAIL_THRESHOLD",
      1,
      100,
    ),
    recoverThreshold: integer(
      pick(flags.recoverThreshold, "BBBLB_RECOVER_THRESHOLD") ?? "2",
      "--recover-threshold / BBBLB_RECOVER_THRESHOLD",
      1,
      100,
    ),
    logLevel,
    logFormat,
  };
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
