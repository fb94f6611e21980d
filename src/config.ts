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

import {
  type AnySetting,
  DEFAULT_KV,
  defaultText,
  flagKey,
  type ServeConfig,
  SETTINGS,
  SettingValueError,
} from "./settings.ts";

/**
 * Raw flag values as commander parsed them, by commander's key of the flag ({@linkcode flagKey}): strings, `true`
 * for a switch, or undefined when not given.
 */
export type ServeFlags = Readonly<Record<string, string | boolean | undefined>>;

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
  const known = new Set<string>(SETTINGS.map((s) => s.env));
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
  setting: AnySetting,
  flags: ServeFlags,
  env: Env,
  file: ConfigFile | null,
): { source: SettingSource; line?: number } {
  if (flags[flagKey(setting)] !== undefined) return { source: "flag" };
  if (env(setting.env) !== undefined) return { source: "environment" };
  const fromFile = file?.values.get(setting.env);
  if (fromFile) return { source: "file", line: fromFile.line };
  return { source: "default" };
}

/** The KV path from `--kv`, else `BBBLB_KV`, else {@linkcode DEFAULT_KV}. */
export function kvPath(flag: string | undefined, env: Env): string {
  const v = flag ?? env("BBBLB_KV") ?? DEFAULT_KV;
  if (v.trim() === "") throw new ConfigError("--kv / BBBLB_KV: must not be empty");
  return v;
}

/**
 * Build the serve settings from {@linkcode SETTINGS}, in its order: each value from its flag, else its variable,
 * else its default, checked by its row's parser. Every bad value is reported before anything starts.
 *
 * @param env reads an environment variable (injected for tests); put a config file under it with
 *   {@linkcode layeredEnv}
 * @throws {ConfigError} with one problem per bad value, each naming the flag and the variable
 */
export function serveConfig(flags: ServeFlags, env: Env): ServeConfig {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const setting of SETTINGS as readonly AnySetting[]) {
    const given = flags[flagKey(setting)];
    const fallback = typeof setting.default === "string" ? setting.default : setting.default(config);
    const raw = given === true ? "true" : typeof given === "string" ? given : env(setting.env) ?? fallback;
    const parse = setting.parse as (raw: string) => unknown;
    try {
      config[setting.key] = parse(raw);
    } catch (e) {
      if (!(e instanceof SettingValueError)) throw e;
      const unit = setting.unit === undefined ? "" : ` (${setting.unit})`;
      // A secret's value is never repeated in a message.
      problems.push(`${setting.flag} / ${setting.env}${unit}: ${e.message}`);
      try {
        config[setting.key] = parse(fallback); // so that later defaults can still be computed
      } catch {
        // no usable fallback: the config is not returned anyway
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as ServeConfig;
}

/** Mask for secrets in `bbblb config`. */
export const MASK = "********";

/**
 * The effective value of a setting as `bbblb config` shows it (units as in the variable), secrets masked unless
 * `showSecrets` (`bbblb config --show-secrets`): one mask per comma-separated value.
 */
export function displayValue(setting: AnySetting, config: ServeConfig, showSecrets = false): string {
  const show = setting.show as (value: unknown) => string;
  const shown = show(config[setting.key]);
  if (!setting.secret || showSecrets || shown === "") return shown;
  return shown.split(",").map(() => MASK).join(",");
}

/** The help line of a setting for `bbblb serve --help`: its text, its variable and its default. */
export function helpLine(setting: AnySetting): string {
  return `${setting.help} (env ${setting.env}, default ${defaultText(setting)})`;
}
