/**
 * `bbblb config`: the effective settings of `bbblb serve` (same flags, environment and config file), one
 * `BBBLB_NAME=value` line each with where the value came from; secrets are masked.
 *
 * @module
 */
import {
  type ConfigFile,
  displayValue,
  type Env,
  layeredEnv,
  MASK,
  serveConfig,
  type ServeFlags,
  SETTINGS,
  sourceOf,
} from "../config.ts";
import { openStore } from "../store/kv.ts";
import { hasStoredSecret } from "../store/settings.ts";

/**
 * The lines `bbblb config` prints. Reads the store only to tell whether it keeps a generated secret (never
 * creating it, never showing the secret).
 *
 * @param env the process environment, without the file (the file is layered under it here)
 * @throws {ConfigError} for bad values, exactly as `serve` would
 */
export async function configCommand(flags: ServeFlags, env: Env, file: ConfigFile | null): Promise<string> {
  const config = serveConfig(flags, layeredEnv(env, file));
  const lines: [string, string][] = [];
  for (const setting of SETTINGS) {
    let value = displayValue(setting, config);
    const { source, line } = sourceOf(setting, flags, env, file);
    let from: string = source === "file" ? `file ${file!.path}:${line}` : source;
    if (setting.key === "secret" && config.secrets.length === 0) {
      const stored = await storedSecret(config.kv);
      value = stored === true ? MASK : "";
      from = stored === true
        ? "store (generated at the first start)"
        : stored === false
        ? "none yet: serve generates one at its first start and keeps it in the store"
        : "store (not readable now)";
    } else if (value === "" && source === "default") {
      from = "not set";
    }
    lines.push([`${setting.env}=${value}`, from]);
  }
  const width = Math.max(...lines.map(([l]) => l.length));
  return lines.map(([l, from]) => `${l.padEnd(width)}  # ${from}`).join("\n");
}

/** Whether the store keeps a generated secret; `null` when the store cannot be read. */
async function storedSecret(path: string): Promise<boolean | null> {
  let kv: Deno.Kv;
  try {
    kv = await openStore(path, false);
  } catch {
    return /^https?:\/\//.test(path) ? null : false;
  }
  try {
    return await hasStoredSecret(kv);
  } catch {
    return null;
  } finally {
    kv.close();
  }
}
