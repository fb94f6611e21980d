/**
 * Every setting of `bbblb serve`, declared once: one row per setting gives its flag, its `BBBLB_*` variable, its
 * default, the parser that checks it, its help text and whether it is a secret. The typed settings
 * ({@linkcode ServeConfig}), the command line options, `bbblb config`, the env file `bbblb install` writes and
 * README's settings table (checked by a test) all come from {@linkcode SETTINGS}. Adding a setting is one row.
 *
 * How the layers (flag, environment, file, default) are combined is `config.ts`.
 *
 * @module
 */

import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from "./bbb/checksum.ts";

/** A value a parser refuses; the message says what is accepted (the caller names the flag and variable). */
export class SettingValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingValueError";
  }
}

/**
 * One setting of `serve`.
 *
 * @typeParam K the field of {@linkcode ServeConfig} it fills
 * @typeParam T its parsed type
 */
export interface Setting<K extends string = string, T = unknown> {
  /** The field of {@linkcode ServeConfig}. */
  key: K;
  /** The flag, e.g. `--port`. */
  flag: `--${string}`;
  /** The flag's argument as help shows it, e.g. `<seconds>`; absent for a switch (`--trust-proxy`). */
  arg?: `<${string}>`;
  /** The environment variable (also the config file key), e.g. `BBBLB_PORT`. */
  env: `BBBLB_${string}`;
  /**
   * The raw value used when the setting is not given, as it would be written in the variable; a function of the
   * settings parsed before it (rows are parsed in order) when it depends on them. `""`: none.
   */
  default: string | ((earlier: Readonly<Record<string, unknown>>) => string);
  /** The default as help and README show it, when that is not the raw default (e.g. `http://HOST:PORT`). */
  defaultText?: string;
  /** The unit, named in messages about a bad value (e.g. `seconds`). */
  unit?: string;
  /** One line for `bbblb serve --help`. */
  help: string;
  /** Never shown by `bbblb config` without `--show-secrets`, nor in help. */
  secret?: boolean;
  /** Check and convert a raw value. @throws {SettingValueError} naming what is accepted */
  parse(raw: string): T;
  /** The value as it would be written in the variable (units as there). */
  show(value: T): string;
}

/** Declare a row; only there to infer the key and the value's type. */
function row<K extends string, T>(setting: Setting<K, T>): Setting<K, T> {
  return setting;
}

/** The default of `--max-body`: 32 MiB, as nginx in front of BBB allows for slides. */
export const DEFAULT_MAX_BODY = 32 * 1024 * 1024;

/** The default of `--max-recording-upload`: 10 GiB. */
export const DEFAULT_MAX_RECORDING_UPLOAD = 10 * 1024 ** 3;

/** The default KV path, relative to the working directory. */
export const DEFAULT_KV = "./bbblb.kv";

/** Every setting of `serve`, in the order `bbblb config` prints them (and they are parsed). */
export const SETTINGS = [
  row({
    key: "kv",
    flag: "--kv",
    arg: "<path>",
    env: "BBBLB_KV",
    default: DEFAULT_KV,
    help: "the KV store: a file path or a KV Connect URL",
    parse: (raw) => {
      if (raw.trim() === "") throw new SettingValueError("must not be empty");
      return raw;
    },
    show: String,
  }),
  row({
    key: "host",
    flag: "--host",
    arg: "<host>",
    env: "BBBLB_HOST",
    default: "127.0.0.1",
    help: "address to listen on",
    parse: (raw) => {
      if (!URL.canParse(`http://${bracketed(raw)}/`) || raw.trim() === "") {
        throw new SettingValueError(`"${raw}" is not a host name or address`);
      }
      return raw;
    },
    show: String,
  }),
  row({
    key: "port",
    flag: "--port",
    arg: "<port>",
    env: "BBBLB_PORT",
    default: "8090",
    help: "port to listen on",
    parse: integer(0, 65535),
    show: String,
  }),
  row({
    key: "secrets",
    flag: "--secret",
    arg: "<secret>",
    env: "BBBLB_SECRET",
    default: "",
    defaultText: "generated",
    help: "API secret(s), comma-separated for a rotation",
    secret: true,
    parse: (raw) => {
      const secrets = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (raw !== "" && secrets.length === 0) {
        throw new SettingValueError("no secret in it (give one, or several separated by commas)");
      }
      if (secrets.some((s) => s.length < 8)) {
        throw new SettingValueError("each secret needs at least 8 characters");
      }
      return secrets;
    },
    show: (secrets) => secrets.join(","),
  }),
  row({
    key: "url",
    flag: "--url",
    arg: "<url>",
    env: "BBBLB_URL",
    default: (s) => `http://${bracketed(String(s.host))}:${s.port}`,
    defaultText: "http://HOST:PORT",
    help: "public base URL put into the links bbblb hands out",
    parse: (raw) => httpUrl(raw).replace(/\/+$/, ""),
    show: String,
  }),
  row({
    key: "logoutUrl",
    flag: "--logout-url",
    arg: "<url>",
    env: "BBBLB_LOGOUT_URL",
    default: "",
    help: "where users of an ended meeting go when its creator gave no logoutURL",
    parse: (raw) => raw === "" ? null : httpUrl(raw),
    show: (v) => v ?? "",
  }),
  row({
    key: "pollIntervalSeconds",
    flag: "--poll-interval",
    arg: "<seconds>",
    env: "BBBLB_POLL_INTERVAL",
    default: "10",
    help: "seconds between poll rounds",
    parse: number(1, 3600),
    show: String,
  }),
  row({
    key: "backendTimeoutMs",
    flag: "--backend-timeout",
    arg: "<seconds>",
    env: "BBBLB_BACKEND_TIMEOUT",
    default: "5",
    help: "timeout of every call to a BBB server",
    parse: seconds(0.1, 120),
    show: showSeconds,
  }),
  row({
    key: "failThreshold",
    flag: "--fail-threshold",
    arg: "<n>",
    env: "BBBLB_FAIL_THRESHOLD",
    default: "2",
    help: "failed rounds before a server is offline",
    parse: integer(1, 100),
    show: String,
  }),
  row({
    key: "recoverThreshold",
    flag: "--recover-threshold",
    arg: "<n>",
    env: "BBBLB_RECOVER_THRESHOLD",
    default: "2",
    help: "good rounds before an offline server is online again",
    parse: integer(1, 100),
    show: String,
  }),
  row({
    key: "failoverDelayMs",
    flag: "--failover-delay",
    arg: "<seconds>",
    env: "BBBLB_FAILOVER_DELAY",
    default: "30",
    unit: "seconds",
    help: "silence of a server before its meetings are re-created elsewhere",
    parse: seconds(0, 86_400),
    show: showSeconds,
  }),
  row({
    key: "createTimeoutMs",
    flag: "--create-timeout",
    arg: "<seconds>",
    env: "BBBLB_CREATE_TIMEOUT",
    default: "15",
    unit: "seconds",
    help: "wait for a BBB create before it is in doubt",
    parse: seconds(0.1, 600),
    show: showSeconds,
  }),
  row({
    key: "fanoutTimeoutMs",
    flag: "--fanout-timeout",
    arg: "<seconds>",
    env: "BBBLB_FANOUT_TIMEOUT",
    default: "2",
    unit: "seconds",
    help:
      "wait of getMeetings, getSessions, getRecordings for the servers (a late one: as before, or left out)",
    parse: seconds(0.1, 120),
    show: showSeconds,
  }),
  row({
    key: "missedRounds",
    flag: "--missed-rounds",
    arg: "<n>",
    env: "BBBLB_MISSED_ROUNDS",
    default: "2",
    help: "getMeetings answers missing a meeting before it counts as ended",
    parse: integer(1, 100),
    show: String,
  }),
  row({
    key: "overdueGraceMinutes",
    flag: "--overdue-grace-minutes",
    arg: "<minutes>",
    env: "BBBLB_OVERDUE_GRACE_MINUTES",
    default: "10",
    unit: "minutes",
    help: "minutes a meeting may run past its duration before the poller ends it",
    parse: integer(0, 1440),
    show: String,
  }),
  row({
    key: "logLevel",
    flag: "--log-level",
    arg: "<level>",
    env: "BBBLB_LOG_LEVEL",
    default: "info",
    help: "debug, info, warn or error",
    parse: oneOf(["debug", "info", "warn", "error"] as const),
    show: String,
  }),
  row({
    key: "logFormat",
    flag: "--log-format",
    arg: "<format>",
    env: "BBBLB_LOG_FORMAT",
    default: "text",
    help: "text or json",
    parse: oneOf(["text", "json"] as const),
    show: String,
  }),
  row({
    key: "adminToken",
    flag: "--admin-token",
    arg: "<token>",
    env: "BBBLB_ADMIN_TOKEN",
    default: "",
    help: "bearer token required for /metrics and /status",
    secret: true,
    parse: (raw) => {
      const token = raw.trim();
      if (raw === "") return null;
      if (token.length < 16 || /\s/.test(token)) {
        throw new SettingValueError("needs at least 16 characters and no spaces");
      }
      return token;
    },
    show: (v) => v ?? "",
  }),
  row({
    key: "trustProxy",
    flag: "--trust-proxy",
    env: "BBBLB_TRUST_PROXY",
    default: "false",
    help: "take the request's host from X-Forwarded-Host, for tenants by host",
    parse: (raw) => {
      const v = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["", "0", "false", "no", "off"].includes(v)) return false;
      throw new SettingValueError(`"${raw}" is not true or false`);
    },
    show: String,
  }),
  row({
    key: "maxBodyBytes",
    flag: "--max-body",
    arg: "<bytes>",
    env: "BBBLB_MAX_BODY",
    default: String(DEFAULT_MAX_BODY),
    unit: "bytes",
    help: "largest request body, e.g. slides (32 MiB)",
    parse: integer(1024, 1024 ** 3),
    show: String,
  }),
  row({
    key: "requestTimeoutMs",
    flag: "--request-timeout",
    arg: "<seconds>",
    env: "BBBLB_REQUEST_TIMEOUT",
    default: "30",
    unit: "seconds",
    help: "longest time one API request may take",
    parse: seconds(1, 3600),
    show: showSeconds,
  }),
  row({
    key: "checksumAlgorithms",
    flag: "--checksum-algorithms",
    arg: "<list>",
    env: "BBBLB_CHECKSUM_ALGORITHMS",
    default: CHECKSUM_ALGORITHMS.join(","),
    help: "what front-ends may sign with, e.g. sha256,sha512",
    parse: algorithmList,
    show: (v) => v.join(","),
  }),
  row({
    key: "recordingsDir",
    flag: "--recordings-dir",
    arg: "<dir>",
    env: "BBBLB_RECORDINGS_DIR",
    default: "",
    help: "keep recordings centrally in this directory, shared by every instance",
    parse: (raw) => raw.trim() === "" ? null : raw.trim(),
    show: (v) => v ?? "",
  }),
  row({
    key: "recordingsUploadGraceDays",
    flag: "--recordings-upload-grace-days",
    arg: "<days>",
    env: "BBBLB_RECORDINGS_UPLOAD_GRACE_DAYS",
    default: "7",
    help: "a removed server may still upload recordings this long",
    parse: number(0, 90),
    show: String,
  }),
  row({
    key: "maxRecordingUploadBytes",
    flag: "--max-recording-upload",
    arg: "<bytes>",
    env: "BBBLB_MAX_RECORDING_UPLOAD",
    default: String(DEFAULT_MAX_RECORDING_UPLOAD),
    unit: "bytes",
    help: "largest recording upload (10 GiB)",
    parse: integer(1024 * 1024, 1024 ** 4),
    show: String,
  }),
  row({
    key: "recordingsRoutedFallback",
    flag: "--recordings-routed-fallback",
    arg: "<on|off>",
    env: "BBBLB_RECORDINGS_ROUTED_FALLBACK",
    default: "on",
    help: "look up recordIDs not in the central index on the servers",
    parse: onOff,
    show: (v) => v ? "on" : "off",
  }),
  row({
    key: "playbackPlayerDir",
    flag: "--playback-player-dir",
    arg: "<dir>",
    env: "BBBLB_PLAYBACK_PLAYER_DIR",
    default: "",
    help: "the presentation player (bbb-playback 2.3) copied from a BBB server",
    parse: (raw) => raw.trim() === "" ? null : raw.trim(),
    show: (v) => v ?? "",
  }),
  row({
    key: "protectedRecordings",
    flag: "--protected-recordings",
    arg: "<on|off>",
    env: "BBBLB_PROTECTED_RECORDINGS",
    default: "off",
    help: "playback links need a grant from getRecordings (tenants may differ)",
    parse: onOff,
    show: (v) => v ? "on" : "off",
  }),
  row({
    key: "recordingLinkMinutes",
    flag: "--recording-link-minutes",
    arg: "<minutes>",
    env: "BBBLB_RECORDING_LINK_MINUTES",
    default: "60",
    unit: "minutes",
    help: "how long the grant on a protected recording's link is valid",
    parse: integer(1, 7 * 24 * 60),
    show: String,
  }),
  row({
    key: "recordingsKeepDeletedDays",
    flag: "--recordings-keep-deleted-days",
    arg: "<days>",
    env: "BBBLB_RECORDINGS_KEEP_DELETED_DAYS",
    default: "14",
    unit: "days",
    help: "days a deleted recording's files are kept before they are purged",
    parse: number(0, 3650),
    show: String,
  }),
  row({
    key: "voiceBridgeDigits",
    flag: "--voice-bridge-digits",
    arg: "<n>",
    env: "BBBLB_VOICE_BRIDGE_DIGITS",
    default: "5",
    help: "digits of the dial-in PINs bbblb allocates, 5 to 9",
    parse: integer(5, 9),
    show: String,
  }),
  row({
    key: "dialNumber",
    flag: "--dial-number",
    arg: "<number>",
    env: "BBBLB_DIAL_NUMBER",
    default: "",
    help: "the dial-in gateway's phone number, set as every meeting's dialNumber",
    parse: (raw) => {
      const v = raw.trim();
      if (v === "") return null;
      if (!/^\+?[0-9][0-9 ()./-]{0,38}$/.test(v)) {
        throw new SettingValueError(`"${v}" is not a phone number (digits, spaces, + ( ) . / -)`);
      }
      return v;
    },
    show: (v) => v ?? "",
  }),
  row({
    key: "fsapiPassword",
    flag: "--fsapi-password",
    arg: "<password>",
    env: "BBBLB_FSAPI_PASSWORD",
    default: "",
    defaultText: "none (off)",
    help: "password of user fsapi for POST /bbblb/v1/fsapi",
    secret: true,
    parse: (raw) => {
      if (raw !== "" && (raw.length < 16 || /[\s:]/.test(raw))) {
        throw new SettingValueError("needs at least 16 characters, no spaces and no colon");
      }
      return raw;
    },
    show: String,
  }),
  row({
    key: "fsapiPinTries",
    flag: "--fsapi-pin-tries",
    arg: "<n>",
    env: "BBBLB_FSAPI_PIN_TRIES",
    default: "3",
    help: "PINs a dial-in call may enter before it is hung up",
    parse: integer(1, 10),
    show: String,
  }),
  row({
    key: "fsapiPinTimeoutMs",
    flag: "--fsapi-pin-timeout",
    arg: "<seconds>",
    env: "BBBLB_FSAPI_PIN_TIMEOUT",
    default: "7",
    unit: "seconds",
    help: "wait for the PIN's digits",
    parse: seconds(1, 60),
    show: showSeconds,
  }),
  row({
    key: "fsapiMaxDurationMinutes",
    flag: "--fsapi-max-duration",
    arg: "<minutes>",
    env: "BBBLB_FSAPI_MAX_DURATION",
    default: "0",
    unit: "minutes",
    help: "longest dial-in call, 0 for none",
    parse: integer(0, 10_080),
    show: String,
  }),
] as const;

/** Any row of {@linkcode SETTINGS}. */
export type AnySetting = (typeof SETTINGS)[number];

/**
 * The validated settings of `bbblb serve`: one field per row of {@linkcode SETTINGS} (its `key`), of the type
 * its parser returns. Durations are in milliseconds where the key ends in `Ms`; see each row's help.
 */
export type ServeConfig = {
  -readonly [S in AnySetting as S["key"]]: S extends Setting<string, infer T> ? T : never;
};

/** The key commander gives a flag's value: `--poll-interval` → `pollInterval`. */
export function flagKey(setting: Pick<Setting, "flag">): string {
  return setting.flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The default as help and README show it: `defaultText`, else the raw default, else `none`. */
export function defaultText(setting: AnySetting): string {
  if (setting.defaultText !== undefined) return setting.defaultText;
  return typeof setting.default === "string" && setting.default !== "" ? setting.default : "none";
}

function bracketed(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function httpUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.protocol === "http:" || u.protocol === "https:") return u.href;
  } catch {
    // refused below
  }
  throw new SettingValueError(`"${raw}" is not an http(s) URL`);
}

function number(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new SettingValueError(`"${raw}" is not a number from ${min} to ${max}`);
    }
    return n;
  };
}

function integer(min: number, max: number): (raw: string) => number {
  const parse = number(min, max);
  return (raw) => {
    const n = parse(raw);
    if (!Number.isInteger(n)) throw new SettingValueError(`"${raw}" is not a whole number`);
    return n;
  };
}

/** Seconds in the variable, milliseconds in the config. */
function seconds(min: number, max: number): (raw: string) => number {
  const parse = number(min, max);
  return (raw) => Math.round(parse(raw) * 1000);
}

function showSeconds(ms: number): string {
  return String(ms / 1000);
}

function oneOf<T extends string>(allowed: readonly T[]): (raw: string) => T {
  return (raw) => {
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new SettingValueError(`"${raw}" is not one of ${allowed.join(", ")}`);
    }
    return raw as T;
  };
}

/** `on`/`off` (also true/false, yes/no, 1/0). */
function onOff(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (["on", "true", "yes", "1"].includes(v)) return true;
  if (["off", "false", "no", "0"].includes(v)) return false;
  throw new SettingValueError(`"${raw}" is not on or off`);
}

/** `--checksum-algorithms`: a comma-separated list of {@linkcode CHECKSUM_ALGORITHMS}; all four when empty. */
function algorithmList(raw: string): ChecksumAlgorithm[] {
  if (raw.trim() === "") return [...CHECKSUM_ALGORITHMS];
  const list = raw.split(",").map((a) => a.trim().toLowerCase()).filter((a) => a !== "");
  const bad = list.filter((a) => !(CHECKSUM_ALGORITHMS as readonly string[]).includes(a));
  if (bad.length > 0 || list.length === 0) {
    throw new SettingValueError(
      `"${raw}" is not a comma-separated list of ${CHECKSUM_ALGORITHMS.join(", ")}`,
    );
  }
  return CHECKSUM_ALGORITHMS.filter((a) => list.includes(a));
}
