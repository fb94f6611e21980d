/**
 * `bbblb config`: the effective settings of `bbblb serve` (same flags, environment and config file), one
 * `BBBLB_NAME=value` line each with where the value came from, after two comment lines naming the config file and
 * the store it used. Secrets are masked unless `--show-secrets` asks for them, as `bbb-conf --secret` shows
 * BBB's.
 *
 * @module
 */
import {
  type ConfigFile,
  DEFAULT_CONFIG_FILE,
  DEFAULT_CONFIG_VARIABLE,
  displayValue,
  type Env,
  layeredEnv,
  MASK,
  serveConfig,
  type ServeFlags,
  sourceOf,
} from "../config.ts";
import { SETTINGS } from "../settings.ts";
import { openStore } from "../store/kv.ts";
import { storedSecret } from "../store/settings.ts";

/** Options of {@linkcode configCommand}. */
export interface ConfigOptions {
  /** Print the secrets unmasked (an explicit request of the operator). @default false */
  showSecrets?: boolean;
}

/**
 * The lines `bbblb config` prints. Reads the store only to tell whether it keeps a generated secret (never
 * creating it; showing that secret only with `showSecrets`).
 *
 * @param env the process environment, without the file (the file is layered under it here)
 * @throws {ConfigError} for bad values, exactly as `serve` would
 */
export async function configCommand(
  flags: ServeFlags,
  env: Env,
  file: ConfigFile | null,
  options: ConfigOptions = {},
): Promise<string> {
  const show = options.showSecrets ?? false;
  const config = serveConfig(flags, layeredEnv(env, file));
  const stored = await readStore(config.kv);
  const lines: [string, string][] = [];
  for (const setting of SETTINGS) {
    let value = displayValue(setting, config, show);
    const { source, line } = sourceOf(setting, flags, env, file);
    let from: string = source === "file" ? `file ${file!.path}:${line}` : source;
    if (setting.key === "secrets" && config.secrets.length === 0) {
      value = typeof stored.secret === "string" ? (show ? stored.secret : MASK) : "";
      from = typeof stored.secret === "string"
        ? "store (generated at the first start)"
        : stored.secret === null
        ? "store (not readable now)"
        : "none yet: serve generates one at its first start and keeps it in the store";
    } else if (value === "" && source === "default") {
      from = "not set";
    }
    lines.push([`${setting.env}=${value}`, from]);
  }
  const width = Math.max(...lines.map(([l]) => l.length));
  const others = file?.others ?? [];
  return [
    `# config file: ${fileLine(file, env)}`,
    `# store: ${config.kv} (${stored.state})`,
    ...lines.map(([l, from]) => `${l.padEnd(width)}  # ${from}`),
    ...(others.length > 0
      ? [
        `# not bbblb settings, left to the environment: ${
          others.map((o) => `${o.key} (${file!.path}:${o.line})`).join(", ")
        }`,
      ]
      : []),
  ].join("\n");
}

/** Which config file was read, and why. */
function fileLine(file: ConfigFile | null, env: Env): string {
  if (file === null) {
    if (env("BBBLB_CONFIG") === "") return "none (BBBLB_CONFIG is set and empty)";
    const fallback = env(DEFAULT_CONFIG_VARIABLE) ?? DEFAULT_CONFIG_FILE;
    return fallback === "" ? "none" : `none (BBBLB_CONFIG is not set and there is no ${fallback})`;
  }
  return file.byDefault ? `${file.path} (the default: BBBLB_CONFIG is not set)` : file.path;
}

/**
 * What the store says: whether it exists, and its generated secret (`false`: none kept; `null`: not readable).
 */
async function readStore(path: string): Promise<{ state: string; secret: string | false | null }> {
  const isUrl = /^https?:\/\//.test(path);
  if (!isUrl) {
    try {
      await Deno.stat(path);
    } catch (e) {
      return e instanceof Deno.errors.NotFound
        ? { state: "does not exist yet; serve creates it", secret: false }
        : { state: `cannot be read: ${(e as Error).message}`, secret: null };
    }
  }
  let kv: Deno.Kv;
  try {
    kv = await openStore(path, false);
  } catch (e) {
    return { state: `cannot be opened: ${(e as Error).message}`, secret: null };
  }
  try {
    return { state: isUrl ? "a KV Connect URL" : "exists", secret: (await storedSecret(kv)) ?? false };
  } catch {
    return { state: "exists, not readable now", secret: null };
  } finally {
    kv.close();
  }
}
