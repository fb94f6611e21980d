/**
 * Reading recordings into a staging folder: a tar archive (optionally gzip-compressed) read as a stream, entry
 * by entry, never held in memory; or a folder laid out like `/var/bigbluebutton/published`. Both accept only
 * `<format>/<recordID>/…` with regular files and folders: an entry with `..`, an absolute path, a link, a device
 * or a FIFO is refused and nothing of the archive is kept (the caller removes the staging folder), so nothing is
 * ever written outside it.
 *
 * @module
 */
// @ts-types="@types/tar-stream"
import tar from "tar-stream";
import { Readable } from "node:stream";
import { join } from "node:path";
import { isFormatName, makeDir, RECORD_ID_PATTERN } from "./layout.ts";

/** Why an archive or folder could not be staged. */
export type ArchiveProblem = "unreadable" | "unsafe" | "tooLarge" | "noSpace" | "empty";

/** An archive or folder that cannot be staged, with a sentence saying why. */
export class ArchiveError extends Error {
  /** What kind of problem: the upload answers 400 (unreadable, unsafe, empty), 413 (tooLarge) or 507 (noSpace). */
  readonly problem: ArchiveProblem;

  constructor(problem: ArchiveProblem, message: string) {
    super(message);
    this.name = "ArchiveError";
    this.problem = problem;
  }
}

/** One `<format>/<recordID>` folder that was staged. */
export interface StagedItem {
  format: string;
  recordID: string;
  /** Bytes of its files. */
  bytes: number;
}

/** Options of {@linkcode extractArchive} and {@linkcode stageFolder}. */
export interface StageOptions {
  /** Most bytes of file content accepted in all. @default no limit */
  maxBytes?: number;
  /** Most entries accepted. @default 500 000 */
  maxEntries?: number;
  /** Give every file and folder to this owner (a root import into a directory the service owns). */
  owner?: { uid: number; gid: number } | null;
}

/** Bytes gathered before one write to a file. */
const WRITE_BYTES = 1024 * 1024;

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * The same bytes in chunks of at least {@linkcode WRITE_BYTES} (the last may be shorter). A request body from
 * another process arrives in small pieces, and the tar parser buffers pieces while its reader is busy writing:
 * fed small pieces, a 200 MiB upload cost 20 s of CPU and 190 MiB of memory (measured); fed large ones, it runs
 * at disk speed in constant memory.
 */
function rechunk(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let pending: Uint8Array[] = [];
  let size = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        pending.push(chunk);
        size += chunk.length;
        if (size >= WRITE_BYTES) {
          controller.enqueue(concat(pending, size));
          pending = [];
          size = 0;
        }
      },
      flush(controller) {
        if (size > 0) controller.enqueue(concat(pending, size));
      },
    }),
  );
}

/** Where an entry path lands, or why it cannot be accepted. */
function checkedPath(
  raw: string,
  isDir: boolean,
): { format: string; recordID: string | null; rest: string[] } | null {
  let name = raw;
  while (name.startsWith("./")) name = name.slice(2);
  if (isDir) name = name.replace(/\/+$/, "");
  if (name === "" || name === ".") return null;
  if (name.startsWith("/")) {
    throw new ArchiveError("unsafe", `the archive holds an absolute path (${show(raw)})`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\\]/.test(name)) {
    throw new ArchiveError("unsafe", `the archive holds a strange path (${show(raw)})`);
  }
  const parts = name.split("/");
  if (parts.some((p) => p === ".." || p === "." || p === "")) {
    throw new ArchiveError("unsafe", `the archive holds a path with "..", "." or "//" (${show(raw)})`);
  }
  if (!isFormatName(parts[0]) || (parts.length > 1 && !RECORD_ID_PATTERN.test(parts[1]))) {
    throw new ArchiveError(
      "unreadable",
      `the archive is not laid out as <format>/<recordID>/… like /var/bigbluebutton/published (${show(raw)})`,
    );
  }
  if (parts.length === 2 && !isDir) {
    throw new ArchiveError("unreadable", `a recording must be a folder, not a file (${show(raw)})`);
  }
  if (parts.length === 1) {
    if (!isDir) throw new ArchiveError("unreadable", `a format must be a folder, not a file (${show(raw)})`);
    return { format: parts[0], recordID: null, rest: [] };
  }
  return { format: parts[0], recordID: parts[1], rest: parts.slice(2) };
}

/** A path from an archive as it may appear in a message: at most 120 characters, control characters escaped. */
function show(path: string): string {
  return JSON.stringify(path.length > 120 ? `${path.slice(0, 120)}…` : path);
}

/** Whether an error is the disk (or the quota) being full. */
function isNoSpace(e: unknown): boolean {
  return /no space left|quota|ENOSPC|EDQUOT/i.test(String((e as Error)?.message ?? e));
}

/** Book-keeping shared by both ways of staging. */
class Stager {
  readonly items = new Map<string, StagedItem>();
  readonly #dirs = new Set<string>();
  #bytes = 0;
  #entries = 0;

  constructor(readonly dest: string, readonly opts: StageOptions) {}

  /** Count an entry. @throws {ArchiveError} past the entry limit */
  entry(): void {
    if (++this.#entries > (this.opts.maxEntries ?? 500_000)) {
      throw new ArchiveError("tooLarge", `more than ${this.opts.maxEntries ?? 500_000} files and folders`);
    }
  }

  /** Count file bytes. @throws {ArchiveError} past the byte limit */
  bytes(n: number, item: StagedItem): void {
    this.#bytes += n;
    item.bytes += n;
    if (this.opts.maxBytes !== undefined && this.#bytes > this.opts.maxBytes) {
      throw new ArchiveError("tooLarge", `the recordings hold more than ${this.opts.maxBytes} bytes`);
    }
  }

  /** The item of a format/recordID, created on first sight. */
  item(format: string, recordID: string): StagedItem {
    const key = `${format}/${recordID}`;
    let item = this.items.get(key);
    if (!item) this.items.set(key, item = { format, recordID, bytes: 0 });
    return item;
  }

  /** Create a folder under the staging folder (and its parents), once. */
  async dir(parts: string[]): Promise<string> {
    let path = this.dest;
    for (const p of parts) {
      path = join(path, p);
      if (this.#dirs.has(path)) continue;
      await makeDir(path, this.opts.owner ?? null);
      this.#dirs.add(path);
    }
    return path;
  }

  /** Open a new file (replacing an earlier entry of the same name, as tar does). */
  async open(parts: string[]): Promise<{ file: Deno.FsFile; path: string }> {
    const parent = await this.dir(parts.slice(0, -1));
    const path = join(parent, parts[parts.length - 1]);
    const file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o644 });
    return { file, path };
  }

  /** Make a written file durable, readable by everyone, and owned as asked. */
  async close(file: Deno.FsFile, path: string): Promise<void> {
    try {
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.chmod(path, 0o644);
    if (this.opts.owner) await Deno.chown(path, this.opts.owner.uid, this.opts.owner.gid);
  }

  /** What was staged. @throws {ArchiveError} `empty` when there is no recording in it */
  result(): StagedItem[] {
    if (this.items.size === 0) {
      throw new ArchiveError("empty", "there is no <format>/<recordID>/ folder in it");
    }
    return [...this.items.values()];
  }
}

/** The stream, decompressed when it starts with gzip's magic bytes. */
async function maybeGunzip(body: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const reader = body.getReader();
  const first = await reader.read();
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (!first.done && first.value.length > 0) controller.enqueue(first.value);
      if (first.done) controller.close();
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  const gzip = !first.done && first.value.length >= 2 && first.value[0] === 0x1f && first.value[1] === 0x8b;
  return gzip
    ? rest.pipeThrough(new DecompressionStream("gzip") as ReadableWritablePair<Uint8Array, Uint8Array>)
    : rest;
}

/**
 * Extract a tar archive (plain or gzip) into `dest`, entry by entry as the bytes arrive.
 *
 * @param dest an empty folder inside the recordings directory; on failure it holds a partial extraction, which
 *   the caller removes
 * @returns the `<format>/<recordID>` folders it held, with their sizes
 * @throws {ArchiveError} for an unreadable, unsafe, empty or too large archive, or a full disk
 */
export async function extractArchive(
  body: ReadableStream<Uint8Array>,
  dest: string,
  opts: StageOptions = {},
): Promise<StagedItem[]> {
  const stager = new Stager(dest, opts);
  const extract = tar.extract();
  let input: Readable | null = null;
  try {
    input = Readable.fromWeb(rechunk(await maybeGunzip(body)) as import("node:stream/web").ReadableStream);
    input.on("error", (e) => extract.destroy(e));
    input.pipe(extract);
    for await (const entry of extract) {
      stager.entry();
      const h = entry.header;
      const isDir = h.type === "directory";
      if (!isDir && h.type !== "file" && h.type !== "contiguous-file") {
        entry.resume();
        throw new ArchiveError(
          "unsafe",
          `the archive holds a ${h.type ?? "special entry"} (${
            show(h.name)
          }): only files and folders are accepted`,
        );
      }
      const where = checkedPath(h.name, isDir);
      if (where === null || isDir) {
        if (where) {
          await stager.dir([where.format, ...(where.recordID ? [where.recordID, ...where.rest] : [])]);
        }
        if (where?.recordID) stager.item(where.format, where.recordID);
        entry.resume();
        continue;
      }
      const item = stager.item(where.format, where.recordID!);
      const { file, path } = await stager.open([where.format, where.recordID!, ...where.rest]);
      try {
        // Chunks are gathered into writes of about 1 MiB: one awaited write per network chunk (32 KiB) made a
        // request body arrive at a few tens of MiB/s (measured), one per MiB at disk speed.
        let pending: Uint8Array[] = [];
        let size = 0;
        const flush = async () => {
          const bytes = pending.length === 1 ? pending[0] : concat(pending, size);
          pending = [];
          size = 0;
          let written = 0;
          while (written < bytes.length) written += await file.write(bytes.subarray(written));
        };
        for await (const chunk of entry) {
          const bytes = chunk as Uint8Array;
          stager.bytes(bytes.length, item);
          pending.push(bytes);
          size += bytes.length;
          if (size >= WRITE_BYTES) await flush();
        }
        if (size > 0) await flush();
      } finally {
        await stager.close(file, path).catch((e) => {
          if (isNoSpace(e)) throw e;
        });
      }
    }
  } catch (e) {
    input?.destroy();
    extract.destroy();
    if (e instanceof ArchiveError) throw e;
    if (isNoSpace(e)) throw new ArchiveError("noSpace", "the disk holding the recordings is full");
    if (e instanceof Deno.errors.PermissionDenied) throw e;
    throw new ArchiveError("unreadable", `not a tar archive bbblb can read: ${(e as Error)?.message ?? e}`);
  }
  return stager.result();
}

/**
 * Copy a folder laid out like `/var/bigbluebutton/published` (`<format>/<recordID>/…`) into `dest`. The source
 * is left as it is.
 *
 * @throws {ArchiveError} for links, devices and a layout that is not `<format>/<recordID>/…`, a full disk
 */
export async function stageFolder(src: string, dest: string, opts: StageOptions = {}): Promise<StagedItem[]> {
  const stager = new Stager(dest, opts);
  const walk = async (parts: string[]): Promise<void> => {
    for await (const e of Deno.readDir(join(src, ...parts))) {
      stager.entry();
      const rel = [...parts, e.name];
      const info = await Deno.lstat(join(src, ...rel));
      if (info.isSymlink || (!info.isFile && !info.isDirectory)) {
        throw new ArchiveError(
          "unsafe",
          `${show(rel.join("/"))} is ${
            info.isSymlink ? "a link" : "not a file or folder"
          }: only files and folders are accepted`,
        );
      }
      const where = checkedPath(rel.join("/"), info.isDirectory)!;
      if (info.isDirectory) {
        await stager.dir(rel);
        if (where.recordID) stager.item(where.format, where.recordID);
        await walk(rel);
        continue;
      }
      const item = stager.item(where.format, where.recordID!);
      const target = join(await stager.dir(parts), e.name);
      await Deno.copyFile(join(src, ...rel), target);
      stager.bytes(info.size, item);
      const file = await Deno.open(target, { write: true });
      await stager.close(file, target);
    }
  };
  try {
    await walk([]);
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    if (isNoSpace(e)) throw new ArchiveError("noSpace", "the disk holding the recordings is full");
    throw e;
  }
  return stager.result();
}
