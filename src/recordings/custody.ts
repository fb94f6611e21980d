/**
 * Central custody of recordings in one `serve` process: receiving uploads and importing them in the
 * background, one at a time. Uploads are recorded in the store before they are answered, so an import that a
 * crash interrupted (or that another instance sharing the directory left) is picked up again: at start, after
 * each upload, and by the minute chores. Each upload is claimed by exactly one process.
 *
 * @module
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import {
  claimUpload,
  finishUpload,
  listPendingUploads,
  listUploadIds,
  type RecordingRecord,
  type UploadRecord,
} from "../store/recordings.ts";
import { listTenants } from "../store/tenants.ts";
import { importStaged } from "./import.ts";
import { ensureLayout, removeTree, stagingRoot, trashRoot } from "./layout.ts";
import { receiveUpload } from "./upload.ts";

/** Options of {@linkcode Custody}. */
export interface CustodyOptions {
  kv: Deno.Kv;
  /** The recordings directory (`--recordings-dir`), shared by every instance. */
  dir: string;
  log: Logger;
  /** `--max-recording-upload`, bytes. */
  maxUploadBytes: number;
  /** `--recordings-upload-grace-days`, in ms. */
  uploadGraceMs: number;
  /** Called with each import's outcome (metrics). */
  onOutcome?: (ok: boolean) => void;
  /** Called after each format of an upload is imported (the recording-ready callback). */
  onImported?: (record: RecordingRecord) => Promise<void>;
  /** This process, for claims and locks. @default a random id */
  owner?: string;
}

/** How long a claim on an upload holds before another process may take it over. */
const CLAIM_MS = 10 * 60_000;
/** Staging folders older than this without an upload record are left over from a crash and removed. */
const ORPHAN_MS = 24 * 3600_000;
/** Trash folders older than this were left by a process that died before removing them. */
const TRASH_MS = 3600_000;

/** Receives uploads and imports them in the background. */
export class Custody {
  readonly kv: Deno.Kv;
  readonly dir: string;
  readonly maxUploadBytes: number;
  readonly uploadGraceMs: number;
  readonly owner: string;
  readonly #opts: CustodyOptions;
  #running: Promise<void> | null = null;
  #again = false;

  constructor(opts: CustodyOptions) {
    this.kv = opts.kv;
    this.dir = opts.dir;
    this.maxUploadBytes = opts.maxUploadBytes;
    this.uploadGraceMs = opts.uploadGraceMs;
    this.owner = opts.owner ?? crypto.randomUUID();
    this.#opts = opts;
  }

  /** Create the directory's working folders. @throws when the directory cannot be created or written */
  async start(): Promise<void> {
    await ensureLayout(this.dir);
  }

  /** Receive an upload (see `receiveUpload`) and start importing it. */
  async receive(
    body: ReadableStream<Uint8Array> | null,
    contentLength: number | null,
    serverId: number,
  ): Promise<UploadRecord> {
    const upload = await receiveUpload(body, contentLength, {
      kv: this.kv,
      dir: this.dir,
      maxBytes: this.maxUploadBytes,
      serverId,
    });
    this.#opts.log.info("recording upload received", {
      upload: upload.id,
      server: serverId,
      formats: upload.items.length,
      bytes: upload.items.reduce((s, i) => s + i.bytes, 0),
    });
    this.kick();
    return upload;
  }

  /** Import what is waiting, in the background (a call while it runs makes it look again when done). */
  kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#importPending();
        } catch (e) {
          this.#opts.log.error("recording imports failed", { error: String((e as Error)?.message ?? e) });
        }
      } while (this.#again);
    })().finally(() => (this.#running = null));
  }

  /** Wait until the background imports are done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #importPending(): Promise<void> {
    for (const pending of await listPendingUploads(this.kv)) {
      const upload = await claimUpload(this.kv, pending.id, this.owner, CLAIM_MS);
      if (!upload) continue;
      await this.#import(upload);
    }
  }

  async #import(upload: UploadRecord): Promise<void> {
    const tenants = new Set((await listTenants(this.kv)).map((t) => t.name));
    const staging = join(stagingRoot(this.dir), upload.id);
    const exists = await Deno.stat(staging).then(() => true, () => false);
    const results = exists
      ? await importStaged(
        { kv: this.kv, dir: this.dir, log: this.#opts.log, owner: this.owner },
        staging,
        upload.items.filter((i) => i.state === "pending"),
        { uploader: upload.serverId, tenants, onImported: this.#opts.onImported },
      )
      : [];
    const items = upload.items.map((i) => {
      const r = results.find((x) => x.format === i.format && x.recordID === i.recordID);
      if (r) return { ...i, state: r.state, error: r.error };
      return i.state === "pending"
        ? { ...i, state: "failed" as const, error: "its files are gone (staging folder missing)" }
        : i;
    });
    for (const i of items) this.#opts.onOutcome?.(i.state === "imported");
    await finishUpload(this.kv, upload, items);
  }

  /**
   * Minute chores: import uploads that a dead process left, remove staging folders older than a day that no
   * upload record names (a crash between extraction and recording), and trash folders older than an hour.
   */
  async chores(now: number = Date.now()): Promise<void> {
    this.kick();
    const known = await listUploadIds(this.kv);
    for (
      const [root, maxAge] of [[stagingRoot(this.dir), ORPHAN_MS], [trashRoot(this.dir), TRASH_MS]] as const
    ) {
      for await (const e of Deno.readDir(root)) {
        if (known.has(e.name)) continue;
        const born = /^[0-9a-f]{12}/.test(e.name) ? parseInt(e.name.slice(0, 12), 16) : 0;
        if (now - born > maxAge) await removeTree(join(root, e.name));
      }
    }
  }
}
