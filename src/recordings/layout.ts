/**
 * Where the files of the recordings in custody live, under the recordings directory (`--recordings-dir`):
 *
 * ```
 * DIR/<format>/<recordID>/…        a format's files exactly as BBB publishes them (/var/bigbluebutton/published)
 * DIR/captions/<recordID>/…        text tracks as BBB's caption pipeline keeps them: captions.json, <kind>_<lang>.vtt
 * DIR/.staging/<id>/<format>/<recordID>/…   an upload or import being written (never listed, never served)
 * DIR/.trash/<id>/                 replaced files on their way out
 * ```
 *
 * Everything is written under `.staging` and renamed into place (rename is atomic within one filesystem), so a
 * half-written upload is never visible. Files get mode 0644 and folders 0755 whatever the umask, and files that
 * a root `bbblb recording import` writes are given to the owner of DIR, so the service can read and replace them.
 *
 * @module
 */
import { join } from "node:path";

/** A playback format's name as BBB names its folders (`presentation`, `video`, `podcast`, `notes`, …). */
export const FORMAT_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * A recordID: BBB's internalMeetingID (`sha1(meetingID)-<createTime ms>`), with a break timestamp appended for
 * the segments of a recording cut with `bbb-record --rebuild --break`.
 */
export const RECORD_ID_PATTERN = /^[0-9a-f]{40}-\d{10,16}(?:-\d{10,16})?$/;

/** Folder names under DIR that are not formats. */
export const RESERVED = new Set(["captions"]);

/** The internalMeetingID of the meeting a recordID belongs to (a break segment's suffix removed). */
export function internalIdOf(recordID: string): string {
  const m = /^([0-9a-f]{40}-\d{10,16})/.exec(recordID);
  return m ? m[1] : recordID;
}

/** Whether `name` can be a format folder. */
export function isFormatName(name: string): boolean {
  return FORMAT_PATTERN.test(name) && !RESERVED.has(name);
}

/** The published folder of one format of a recording. */
export function formatDir(dir: string, format: string, recordID: string): string {
  return join(dir, format, recordID);
}

/** The text tracks of a recording (BBB's `captions_dir/<recordID>`). */
export function captionsDir(dir: string, recordID: string): string {
  return join(dir, "captions", recordID);
}

/** Where uploads and imports are written before they are renamed into place. */
export function stagingRoot(dir: string): string {
  return join(dir, ".staging");
}

/** Where replaced files wait to be deleted. */
export function trashRoot(dir: string): string {
  return join(dir, ".trash");
}

/** A new sortable id for a staging or trash folder: ms in hex, then random hex. */
export function newFolderId(now: number = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  return now.toString(16).padStart(12, "0") +
    Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The owner of the recordings directory, to give files a root import writes (or `null` when not root). */
export async function ownerToKeep(dir: string): Promise<{ uid: number; gid: number } | null> {
  if (Deno.uid() !== 0) return null;
  const st = await Deno.stat(dir);
  if (st.uid === null || st.gid === null || (st.uid === 0 && st.gid === 0)) return null;
  return { uid: st.uid, gid: st.gid };
}

/**
 * Create a folder (and its parents) with mode 0755 whatever the umask, owned by `owner` when given. A folder
 * that exists already is left as it is.
 */
export async function makeDir(path: string, owner: { uid: number; gid: number } | null): Promise<void> {
  if (await Deno.stat(path).then((s) => s.isDirectory, () => false)) return;
  await Deno.mkdir(path, { recursive: true });
  await Deno.chmod(path, 0o755);
  if (owner) await Deno.chown(path, owner.uid, owner.gid);
}

/** Make sure DIR and its working folders exist. @throws when DIR cannot be created or written */
export async function ensureLayout(dir: string): Promise<void> {
  const owner = await Deno.stat(dir).then(() => ownerToKeep(dir), () => null);
  await makeDir(dir, owner);
  await makeDir(stagingRoot(dir), owner);
  await makeDir(trashRoot(dir), owner);
}

/** Remove a folder and everything in it; a missing one is fine. */
export async function removeTree(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** Bytes of the regular files under a folder (links are not followed). */
export async function treeBytes(path: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(path)) {
    const p = join(path, e.name);
    if (e.isDirectory) total += await treeBytes(p);
    else if (e.isFile) total += (await Deno.lstat(p)).size;
  }
  return total;
}
