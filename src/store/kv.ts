/**
 * Opening the Deno KV store and committing to it safely while several processes share one file.
 *
 * @module
 */

/**
 * Open the store: a file path (created with mode 0600 if missing and `create` is set) or a KV Connect URL.
 *
 * @param create create a missing file (`serve`, `import`, `install`, `sync-servers`); the other commands pass
 *   `false`, so a command run in the wrong directory says so instead of showing (or filling) an empty cluster
 * @param onCreate called with the path when a new file was created, so the command can say so
 * @throws {Error} with one clear sentence when the file is missing, or cannot be opened or created.
 */
export async function openStore(
  path: string,
  create = true,
  onCreate?: (path: string) => void,
): Promise<Deno.Kv> {
  const isUrl = /^https?:\/\//.test(path);
  if (!isUrl && !create && !(await exists(path))) {
    throw new Error(
      `there is no store at ${path}${path.startsWith("/") ? "" : ` (in ${Deno.cwd()})`}: ` +
        "pass --kv (or set BBBLB_KV or BBBLB_CONFIG), or start bbblb serve first",
    );
  }
  if (!isUrl) {
    try {
      // Create it ourselves so the file (which holds server secrets) is never world-readable.
      const f = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
      f.close();
      onCreate?.(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new Error(`cannot open the KV file ${path}: ${(e as Error).message}`);
      }
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

/**
 * The store cannot be written (or read) right now: locked by another program past the retry budget, the disk
 * full, the file not writable, an I/O error. `serve` answers such a request FAILED and goes on; the command line
 * stops with the message. Nothing committed before is affected: each commit is all or nothing.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/**
 * What is wrong with the store, as a sentence for the operator, if `e` is a failure of the store itself
 * (SQLite's "database is locked", "database or disk is full", "attempt to write a readonly database",
 * "disk I/O error", a permission error); `null` for any other error.
 */
export function storeProblem(e: unknown): string | null {
  if (e instanceof StoreUnavailableError) return e.message;
  const message = e instanceof Error ? e.message : String(e);
  if (/database is locked|database is busy|database table is locked/i.test(message)) {
    return "the store is locked by another program";
  }
  if (/disk is full|no space left|database or disk is full|quota/i.test(message)) {
    return "the disk holding the store is full";
  }
  if (/readonly database|read-only|permission denied|operation not permitted/i.test(message)) {
    return "the store's file cannot be written (read-only or not permitted)";
  }
  if (/disk I\/O error|i\/o error|unable to open database|database disk image is malformed/i.test(message)) {
    return `the store's file cannot be written (${message})`;
  }
  return null;
}

/**
 * `work` (the first use of a store just opened), or a {@linkcode StoreUnavailableError} once `ms` have passed.
 * A new connection to a store that another program holds an exclusive lock on waits without end on its first
 * read (measured with sqlite3's `BEGIN EXCLUSIVE`); the command line must stop instead. What `work` started is
 * abandoned: the caller exits.
 */
export async function storeAnswers<T>(work: Promise<T>, ms = 10_000): Promise<T> {
  work.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new StoreUnavailableError(
                `the store did not answer within ${ms / 1000} s (is it locked by another program?)`,
              ),
            ),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Options of {@linkcode commitWithRetry}. */
export interface RetryOptions {
  /** How many times to try in all. @default 8 */
  attempts?: number;
  /** Base delay in ms; each retry waits up to twice as long as the one before, with jitter. @default 5 */
  baseDelayMs?: number;
  /**
   * No retry starts after this many ms (one attempt may itself wait up to SQLite's 5 s busy timeout).
   * @default 3000
   */
  budgetMs?: number;
}

/**
 * Commit an atomic operation, retrying when SQLite reports `database is locked` (measured at ~3% of commits
 * with checks when two processes share one KV file). Build the operation inside `build`, so each retry starts
 * from a fresh `kv.atomic()`.
 *
 * @returns the commit result; `ok: false` means a `check` failed (never retried here: the caller re-reads)
 * @throws {StoreUnavailableError} when the store stays locked past the attempts or the budget, or the commit
 *   fails for the store's sake (disk full, not writable, I/O error); any other error as it is
 */
export async function commitWithRetry(
  build: () => Deno.AtomicOperation,
  options: RetryOptions = {},
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  const attempts = options.attempts ?? 8;
  const base = options.baseDelayMs ?? 5;
  const budget = options.budgetMs ?? 3000;
  const started = Date.now();
  for (let i = 1;; i++) {
    try {
      return await build().commit();
    } catch (e) {
      const elapsed = Date.now() - started;
      if (isLocked(e) && i < attempts && elapsed < budget) {
        await new Promise((r) => setTimeout(r, Math.random() * base * 2 ** i));
        continue;
      }
      const problem = storeProblem(e);
      if (problem === null) throw e;
      const tries = isLocked(e) ? ` (gave up after ${i} tries in ${(elapsed / 1000).toFixed(1)} s)` : "";
      throw new StoreUnavailableError(`${problem}${tries}`, { cause: e });
    }
  }
}

function isLocked(e: unknown): boolean {
  return e instanceof Error && /database is locked|database is busy/i.test(e.message);
}

/**
 * Write many entries, 500 per atomic operation (Deno KV's limit is 1000 mutations): `null` deletes. Not one
 * transaction: for derived data that the next poll round rewrites anyway (live counts, participant sums).
 */
export async function writeBatched(
  kv: Deno.Kv,
  writes: { key: Deno.KvKey; value: unknown }[],
): Promise<void> {
  for (let i = 0; i < writes.length; i += 500) {
    await commitWithRetry(() => {
      const op = kv.atomic();
      for (const w of writes.slice(i, i + 500)) w.value === null ? op.delete(w.key) : op.set(w.key, w.value);
      return op;
    });
  }
}
