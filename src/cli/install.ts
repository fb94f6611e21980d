/**
 * `bbblb install`: lay out the service from the binary alone, as a BBB operator expects on a fresh VM: the
 * hardened systemd unit (`deploy/bbblb.service`, carried in {@linkcode SERVICE_UNIT}) running the `bbblb` that ran
 * install, `/etc/bbblb/bbblb.env` (mode 0600) with `BBBLB_URL`, `BBBLB_KV`, a generated `BBBLB_SECRET` and every
 * other setting commented out, the state directory `/var/lib/bbblb` and the store in it. An existing env file is
 * never overwritten (it holds the secret the front-ends use); a unit that differs is replaced only with `--force`.
 *
 * @module
 */
import { DEFAULT_CONFIG_FILE, displayValue, parseConfigFile, serveConfig } from "../config.ts";
import { SETTINGS } from "../settings.ts";
import { generateSecret } from "../store/settings.ts";
import { openStore } from "../store/kv.ts";
import { ensureSchema } from "../store/schema.ts";
import { CliError } from "./errors.ts";
import { SERVICE_UNIT, UNIT_EXEC_PATH } from "./service_unit.ts";

/** Where the unit goes. */
export const UNIT_FILE = "/etc/systemd/system/bbblb.service";
/** The service's state directory (the unit's `StateDirectory=bbblb`). */
export const STATE_DIR = "/var/lib/bbblb";
/** The service's store. */
export const SERVICE_KV = `${STATE_DIR}/bbblb.kv`;

/** Options of {@linkcode installCommand}. */
export interface InstallOptions {
  /** Prefix of every path written (`--root`), e.g. a temp dir or an image being built; `""` for `/`. */
  root: string;
  /** bbblb's public URL (`--url`); `https://` and this machine's name when absent. */
  url?: string;
  /** Print what would be done and write nothing (`--dry-run`). */
  dryRun: boolean;
  /** Replace a unit that differs from this bbblb's (`--force`). */
  force: boolean;
  /** The path of the `bbblb` that runs install: the unit's `ExecStart`. */
  executable: string;
  /** Called with the path of a store install created (the command says so on stderr). */
  onCreate?: (path: string) => void;
}

/** The unit for `executable`: `deploy/bbblb.service` with its `ExecStart` path replaced. */
export function unitFor(executable: string): string {
  const path = /[\s"'\\]/.test(executable) ? JSON.stringify(executable) : executable;
  return SERVICE_UNIT.replace(`ExecStart=${UNIT_EXEC_PATH} serve`, `ExecStart=${path} serve`);
}

/**
 * The env file install writes: the three settings a service needs, and every other setting of `serve` commented
 * out with its default, so the operator sees what can be set.
 */
export function envFileFor(url: string, secret: string): string {
  const defaults = serveConfig({}, () => undefined);
  const given = new Set(["BBBLB_URL", "BBBLB_KV", "BBBLB_SECRET"]);
  return [
    "# The settings of the bbblb service, written by `bbblb install`. systemd reads this file as root",
    `# (EnvironmentFile= in ${UNIT_FILE}), and so do bbblb's commands run as root, so they find the`,
    "# service's store. Keep it root-only (mode 0600): it holds the API secret. Every setting is described in",
    "# bbblb's README (Settings of serve); `bbblb config` shows the effective ones.",
    `BBBLB_URL=${url}`,
    `BBBLB_KV=${SERVICE_KV}`,
    "# The secret front-ends sign with (several, comma-separated, during a rotation: NEW,OLD).",
    `BBBLB_SECRET=${secret}`,
    "",
    "# The other settings, with their defaults:",
    ...SETTINGS.filter((s) => !given.has(s.env)).map((s) => `# ${s.env}=${displayValue(s, defaults)}`),
    "",
    "# Not bbblb's: V8's flags for the service, e.g. less memory for somewhat slower poll rounds.",
    "# DENO_V8_FLAGS=--optimize-for-size",
    "",
  ].join("\n");
}

async function readText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw failure(path, e);
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, (e) => {
    if (e instanceof Deno.errors.NotFound) return false;
    throw failure(path, e);
  });
}

/** A file-system error as one line an operator can act on. */
function failure(path: string, e: unknown): CliError {
  const hint = e instanceof Deno.errors.PermissionDenied
    ? ": run bbblb install as root (or with --root DIR)"
    : "";
  return new CliError(`cannot use ${path}: ${(e as Error).message}${hint}`);
}

/**
 * Lay out the service under `options.root`.
 *
 * @returns the lines to print: what was (or would be) written, kept or created, and the next steps
 * @throws {CliError} exit 2 for a bad `--url`; exit 1 when a path cannot be written
 */
export async function installCommand(options: InstallOptions): Promise<string> {
  const url = options.url ?? `https://${Deno.hostname()}`;
  let publicUrl: string;
  try {
    publicUrl = serveConfig({ url }, () => undefined).url;
  } catch {
    throw new CliError(`--url: "${url}" is not an http(s) URL`, 2);
  }
  const at = (path: string) => `${options.root.replace(/\/+$/, "")}${path}`;
  const would = options.dryRun ? "would " : "";
  const lines: string[] = [];

  // The unit: written when missing, replaced only with --force.
  const unit = unitFor(options.executable);
  const oldUnit = await readText(at(UNIT_FILE));
  if (oldUnit === unit) {
    lines.push(`kept ${UNIT_FILE} (already this bbblb's unit)`);
  } else if (oldUnit !== null && !options.force) {
    lines.push(`kept ${UNIT_FILE}: it differs from this bbblb's unit; --force replaces it`);
  } else {
    if (!options.dryRun) {
      try {
        await Deno.mkdir(at("/etc/systemd/system"), { recursive: true });
        await Deno.writeTextFile(at(UNIT_FILE), unit, { mode: 0o644 });
        await Deno.chmod(at(UNIT_FILE), 0o644);
      } catch (e) {
        throw failure(at(UNIT_FILE), e);
      }
    }
    lines.push(
      `${would}${oldUnit === null ? "write" : "replace"} ${UNIT_FILE} (runs ${options.executable} serve)`,
    );
  }

  // The env file: never overwritten; the store it names is the one install creates.
  const envText = await readText(at(DEFAULT_CONFIG_FILE));
  let kvPath = SERVICE_KV;
  if (envText !== null) {
    try {
      kvPath = parseConfigFile(envText, DEFAULT_CONFIG_FILE).values.get("BBBLB_KV")?.value ?? SERVICE_KV;
    } catch {
      // a file bbblb cannot parse is still the operator's: kept, and the default store is used
    }
    lines.push(`kept ${DEFAULT_CONFIG_FILE} (it exists; bbblb install never overwrites it)`);
  } else {
    if (!options.dryRun) {
      try {
        await Deno.mkdir(at("/etc/bbblb"), { recursive: true, mode: 0o700 });
        await Deno.writeTextFile(at(DEFAULT_CONFIG_FILE), envFileFor(publicUrl, generateSecret()), {
          mode: 0o600,
          createNew: true,
        });
        await Deno.chmod(at(DEFAULT_CONFIG_FILE), 0o600);
      } catch (e) {
        throw failure(at(DEFAULT_CONFIG_FILE), e);
      }
    }
    lines.push(
      `${would}write ${DEFAULT_CONFIG_FILE} (mode 0600: BBBLB_URL=${publicUrl}, BBBLB_KV=${SERVICE_KV}, ` +
        "a generated BBBLB_SECRET)",
    );
  }

  // The state directory and the store, so the admin commands work before the first start.
  if (!(await exists(at(STATE_DIR)))) {
    if (!options.dryRun) {
      try {
        await Deno.mkdir(at(STATE_DIR), { recursive: true, mode: 0o700 });
        await Deno.chmod(at(STATE_DIR), 0o700);
      } catch (e) {
        throw failure(at(STATE_DIR), e);
      }
    }
    lines.push(`${would}create ${STATE_DIR} (mode 0700)`);
  }
  if (!/^https?:\/\//.test(kvPath) && !(await exists(at(kvPath)))) {
    if (options.dryRun) {
      lines.push(`would create the store ${kvPath}`);
    } else {
      const kv = await openStore(at(kvPath), true, options.onCreate);
      try {
        await ensureSchema(kv);
      } finally {
        kv.close();
      }
    }
  }

  if (options.dryRun) return [...lines, "dry run: nothing written"].join("\n");
  const api = `${publicUrl}/bigbluebutton/`;
  return [
    ...lines,
    "next steps:",
    "  systemctl daemon-reload && systemctl enable --now bbblb   # then: journalctl -u bbblb -f",
    `  put nginx in front (TLS for ${publicUrl}, proxy to 127.0.0.1:8090): see the README, Running it on a server`,
    "  bbblb add-server 1 https://bbb1.example.org/bigbluebutton/ - < bbb1-secret.txt   # per BBB server, as root",
    `  give your front-ends the URL ${api} and the secret that \`bbblb config --show-secrets\` prints`,
  ].join("\n");
}
