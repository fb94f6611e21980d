/**
 * What every command group of the command line shares: the settings environment (process environment over the
 * config file), opening the store, and the common options (`--kv`, `--checksum`, repeatable values, stdin).
 *
 * @module
 */
import { Option } from "commander";
import { CHECKSUM_ALGORITHMS } from "../bbb/checksum.ts";
import { type Env, kvPath, layeredEnv, readConfigFile } from "../config.ts";
import { openStore, storeAnswers, StoreUnavailableError } from "../store/kv.ts";
import { ensureSchema } from "../store/schema.ts";

/** The process environment. */
export const processEnv: Env = (name) => Deno.env.get(name);

/**
 * The environment with the config file named by `--config` (else `BBBLB_CONFIG`) layered under it, so every
 * command reads the same settings as `serve`.
 */
export async function settingsEnv(configFlag?: string): Promise<Env> {
  return layeredEnv(processEnv, await readConfigFile(configFlag, processEnv));
}

/** Says on stderr that a command created a new store (only serve, import, install and sync-servers do). */
export function announceNewStore(path: string): void {
  console.error(`bbblb: created a new store at ${path}`);
}

/**
 * Run an admin subcommand on the store named by `--kv` and print what it returns. A missing store is refused
 * unless `create` (import and sync-servers), which says so on stderr.
 */
export async function withStore(
  kvFlag: string | undefined,
  run: (kv: Deno.Kv) => Promise<string>,
  create = false,
): Promise<void> {
  const kv = await openStore(kvPath(kvFlag, await settingsEnv()), create, announceNewStore);
  await answeredOrAbandoned(kv, ensureSchema(kv));
  try {
    console.log(await run(kv));
  } finally {
    kv.close();
  }
}

/**
 * The first use of a store just opened, bounded by {@linkcode storeAnswers}. On other errors the store is closed;
 * when it did not answer it is left open (closing it would wait for the stuck read) and the process exits.
 */
export async function answeredOrAbandoned(kv: Deno.Kv, first: Promise<unknown>): Promise<void> {
  try {
    await storeAnswers(first);
  } catch (e) {
    if (!(e instanceof StoreUnavailableError)) kv.close();
    throw e;
  }
}

/** `--kv`: the store, as `serve` names it. */
export function kvOption(): Option {
  return new Option(
    "--kv <path>",
    "the KV store: a file path or a KV Connect URL (env BBBLB_KV, default ./bbblb.kv)",
  );
}

/** `--checksum`: the algorithm bbblb signs its calls to a server with. */
export function checksumOption(): Option {
  return new Option("--checksum <algo>", "what bbblb signs its calls with").choices([...CHECKSUM_ALGORITHMS]);
}

/** `--hooks-checksum`: what bbblb signs calls to a server's webhooks module with (bbb-webhooks 2.6: SHA-1 only). */
export function hooksChecksumOption(): Option {
  return new Option(
    "--hooks-checksum <algo>",
    "what calls to its webhooks module are signed with (default sha1)",
  )
    .choices([...CHECKSUM_ALGORITHMS]);
}

/** Commander's way to repeat an option: collect its values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** All of standard input, as text (for `-` arguments). */
export async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}
