/**
 * Opening the Deno KV store and committing to it safely while several processes share one file.
 *
 * @module
 */

/**
 * Open the store: a file path (created with mode 0600 if missing and `create` is set) or a KV Connect URL.
 *
 * @param create create a missing file (serve, add-server); read-only admin commands pass `false`, so a command
 *   run in the wrong directory says so instead of showing an empty cluster
 * @throws {Error} with one clear sentence when the file is missing, or cannot be opened or created.
 */
export async function openStore(path: string, create = true): Promise<Deno.Kv> {
  const isUrl = /^https?:\/\//.test(path);
  if (!isUrl && !create && !(await exists(path))) {
    throw new Error(
      `there is no store at ${path}${path.startsWith("/") ? "" : ` (in ${Deno.cwd()})`}: ` +
        "pass --kv (or BBBLB_KV), or run bbblb serve or add-server first",
    );
  }
  if (!isUrl) {
    try {
      // Create it ourselves so the file (which holds server secrets) is never world-readable.
      const f = await Deno.open(path, { create: true, write: true, mode: 0o600 });
      f.close();
    } catch (e) {
      throw new Error(`cannot open the KV file ${path}: ${(e as Error).message}`);
    }
  }
  try {
    return await Deno.openKv(path);
  } catch (e) {
    throw new Error(`cannot open the KV store ${path}: ${(e as Error).message}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@linkcode commitWithRetry}. */
export interface RetryOptions {
  /** How many times to try in all. @default 8 */
  attempts?: number;
  /** Base delay in ms; each retry waits up to twice as long as the one before, with jitter. @default 5 */
  baseDelayMs?: number;
}

/**
 * Commit an atomic operation, retrying when SQLite reports `database is locked` (measured at ~3% of commits
 * with checks when two processes share one KV file). Build the operation inside `build`, so each retry starts
 * from a fresh `kv.atomic()`.
 *
 * @returns the commit result; `ok: false` means a `check` failed (never retried here: the caller re-reads)
 * @throws the last error when the store stays locked for every attempt, or any other error at once
 */
export async function commitWithRetry(
  build: () => Deno.AtomicOperation,
  options: RetryOptions = {},
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  const attempts = options.attempts ?? 8;
  const base = options.baseDelayMs ?? 5;
  for (let i = 1;; i++) {
    try {
      return await build().commit();
    } catch (e) {
      if (i >= attempts || !isLocked(e)) throw e;
      await new Promise((r) => setTimeout(r, Math.random() * base * 2 ** i));
    }
  }
}

function isLocked(e: unknown): boolean {
  return e instanceof Error && /database is locked|database is busy/i.test(e.message);
}
