/**
 * Who may see a recording's playback files, and where they are: pure functions shared by bbblb's own file
 * serving and the nginx `auth_request` endpoint (`api/playback.ts`), so both apply the same rules.
 *
 * - **Paths.** A request path is read as BBB's nginx reads it: the presentation player
 *   (`/playback/presentation/2.3/<recordID>` and its own files), the 2.0 player's links
 *   (`/playback/presentation/2.0/playback.html?meetingId=<recordID>`), and a format's files under `/<format>/<recordID>/…`,
 *   `/playback/<format>/<recordID>/…` or the path of the format's `<link>`; text tracks under `/captions/<recordID>/…`.
 *   A segment that is empty, `.`/`..`, hidden (`.x`) or holds a slash after decoding makes the path unknown.
 * - **State.** Only a published recording is served, on every path of every format.
 * - **Host.** A recording answers only on its tenant's host (the tenant's own host, else `BBBLB_URL`'s), the host
 *   its getRecordings links name.
 * - **Protection.** A protected recording needs a grant (a query parameter on the links getRecordings lists,
 *   valid for `--recording-link-minutes`, not single-use) or the cookie a grant sets: both are HMACs over the
 *   recordID, the tenant and an expiry, so one recording's grant or cookie opens no other recording.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import { RECORD_ID_PATTERN } from "./layout.ts";
import type { RecordingRecord } from "../store/recordings.ts";

/** The query parameter that carries a grant. */
export const GRANT_PARAM = "bbblb_grant";
/** The cookie a grant sets (one per path of the recording, each scoped to that path). */
export const COOKIE_NAME = "bbblb_playback";
/** The presentation player's path (bbb-playback 2.3, as BBB serves it). */
export const PLAYER_PATH = "/playback/presentation/2.3";

/** What a request path names. */
export type PlaybackPath =
  /** The player's page for a recording (`/playback/presentation/2.3/<recordID>`). */
  | { kind: "player"; recordID: string }
  /** One of the player's own files (scripts, styles, fonts), the same for every recording. */
  | { kind: "asset"; rel: string[] }
  /** A link of the 2.0 player (`/playback/presentation/2.0/playback.html`), redirected to 2.3. */
  | { kind: "legacy" }
  /** A file of a recording: the path segments before the recordID, and those after it (empty: the index). */
  | { kind: "file"; recordID: string; prefix: string[]; rel: string[] };

/** Split a path into decoded segments; `null` when a segment is unsafe (see the module doc). */
function segmentsOf(path: string): string[] | null {
  const raw = path.split("/").slice(1);
  if (raw.length > 0 && raw[raw.length - 1] === "") raw.pop(); // a trailing slash
  const out: string[] = [];
  for (const r of raw) {
    let s: string;
    try {
      s = decodeURIComponent(r);
    } catch {
      return null;
    }
    if (s === "" || s.startsWith(".") || /[/\\\0]/.test(s)) return null;
    out.push(s);
  }
  return out;
}

/** What a request path (without its query) names, or `null` for none of bbblb's playback paths. */
export function parsePlaybackPath(path: string): PlaybackPath | null {
  const segs = segmentsOf(path);
  if (segs === null || segs.length === 0) return null;
  if (segs[0] === "playback" && segs[1] === "presentation" && segs[2] === "2.3") {
    const rest = segs.slice(3);
    if (rest.length === 1 && RECORD_ID_PATTERN.test(rest[0])) return { kind: "player", recordID: rest[0] };
    if (rest.length === 0 || RECORD_ID_PATTERN.test(rest[0])) return null;
    return { kind: "asset", rel: rest };
  }
  if (segs.length === 4 && segs.slice(0, 4).join("/") === "playback/presentation/2.0/playback.html") {
    return { kind: "legacy" };
  }
  // The recordID stands after one to three segments (`/presentation/ID`, `/playback/video/ID`, a link's own).
  for (let i = 1; i <= Math.min(3, segs.length - 1); i++) {
    if (RECORD_ID_PATTERN.test(segs[i])) {
      return { kind: "file", recordID: segs[i], prefix: segs.slice(0, i), rel: segs.slice(i + 1) };
    }
  }
  return null;
}

/** The path segments of a format link before its recordID (`/playback/video/ID/` gives `playback/video`). */
function linkPrefix(linkPath: string, recordID: string): string[] | null {
  const path = linkPath.split("?")[0];
  const segs = path.split("/").filter((s) => s !== "");
  const at = segs.indexOf(recordID);
  return at > 0 ? segs.slice(0, at) : null;
}

/**
 * The folder (relative to the recordings directory: `<format>` or `captions`) a file path of this recording
 * lies in, or `null` when the prefix names none of its formats.
 */
export function folderOf(record: RecordingRecord, prefix: readonly string[]): string | null {
  const p = prefix.join("/");
  if (p === "captions") return "captions";
  for (const [format, f] of Object.entries(record.formats)) {
    if (p === format || p === `playback/${format}`) return format;
    if (linkPrefix(f.linkPath, record.recordID)?.join("/") === p) return format;
  }
  return null;
}

/**
 * Every path under which a browser reaches the recording's files (the prefixes of its folders and links, the
 * player's page, the text tracks): a grant sets one cookie scoped to each.
 */
export function recordingPaths(record: RecordingRecord): string[] {
  const id = record.recordID;
  const out = new Set<string>([`/captions/${id}`]);
  for (const [format, f] of Object.entries(record.formats)) {
    out.add(`/${format}/${id}`);
    out.add(`/playback/${format}/${id}`);
    const link = linkPrefix(f.linkPath, id);
    if (link) out.add(`/${link.join("/")}/${id}`);
    if (format === "presentation") out.add(`${PLAYER_PATH}/${id}`);
  }
  return [...out];
}

/** Whether a request for this path is the page a user opens (the grant is traded for a cookie, then dropped). */
export function isPage(path: PlaybackPath, record: RecordingRecord): boolean {
  if (path.kind === "player") return true;
  if (path.kind !== "file") return false;
  const here = [...path.prefix, path.recordID, ...path.rel].join("/");
  return path.rel.length === 0 ||
    Object.values(record.formats).some((f) =>
      f.linkPath.split("?")[0].split("/").filter((s) => s !== "").join("/") === here
    );
}

function mac(key: Uint8Array, purpose: string, recordID: string, tenant: string, exp: number): string {
  return createHmac("sha256", key).update(`bbblb ${purpose}\n${recordID}\n${tenant}\n${exp}`).digest(
    "base64url",
  ).slice(0, 32);
}

function token(key: Uint8Array, purpose: string, recordID: string, tenant: string, exp: number): string {
  return `${exp.toString(36)}.${mac(key, purpose, recordID, tenant, exp)}`;
}

function verify(
  key: Uint8Array,
  purpose: string,
  value: string | null | undefined,
  recordID: string,
  tenant: string,
  now: number,
): boolean {
  const m = value ? /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{32})$/.exec(value) : null;
  if (!m) return false;
  const exp = parseInt(m[1], 36);
  if (!(exp > Math.floor(now / 1000))) return false;
  const want = Buffer.from(mac(key, purpose, recordID, tenant, exp));
  return timingSafeEqual(want, Buffer.from(m[2]));
}

/** A grant for one recording of one tenant, valid until `expiresAt` (ms). */
export function mintGrant(key: Uint8Array, recordID: string, tenant: string, expiresAt: number): string {
  return token(key, "grant", recordID, tenant, Math.floor(expiresAt / 1000));
}

/** Whether a grant opens this recording of this tenant at `now` (ms). */
export function grantValid(
  key: Uint8Array,
  value: string | null | undefined,
  recordID: string,
  tenant: string,
  now: number,
): boolean {
  return verify(key, "grant", value, recordID, tenant, now);
}

/** The value of the cookie a grant sets, valid until `expiresAt` (ms). */
export function mintCookie(key: Uint8Array, recordID: string, tenant: string, expiresAt: number): string {
  return token(key, "cookie", recordID, tenant, Math.floor(expiresAt / 1000));
}

/** Whether one of the cookie values the browser sent opens this recording of this tenant at `now` (ms). */
export function cookieValid(
  key: Uint8Array,
  values: readonly string[],
  recordID: string,
  tenant: string,
  now: number,
): boolean {
  return values.some((v) => verify(key, "cookie", v, recordID, tenant, now));
}

/** Every value of the playback cookie in a `Cookie` header (several paths may each hold one). */
export function cookieValues(header: string | null): string[] {
  if (!header) return [];
  return header.split(";").map((p) => p.trim()).filter((p) => p.startsWith(`${COOKIE_NAME}=`)).map((p) =>
    p.slice(COOKIE_NAME.length + 1)
  );
}

/** A URL (path and query) with a grant appended. */
export function withGrant(pathAndQuery: string, grant: string): string {
  return `${pathAndQuery}${pathAndQuery.includes("?") ? "&" : "?"}${GRANT_PARAM}=${grant}`;
}

/** How playback files are served and protected (`serve` settings). */
export interface PlaybackSettings {
  /** The presentation player's folder (`--playback-player-dir`), or `null`: the presentation format has no page. */
  playerDir: string | null;
  /** Whether recordings are protected unless their tenant says otherwise (`--protected-recordings`). */
  protectedByDefault: boolean;
  /** How long the grant on a getRecordings link is valid, in minutes (`--recording-link-minutes`). */
  linkMinutes: number;
  /** How long the cookie a grant sets is valid, in minutes. @default 360 */
  cookieMinutes?: number;
  /** The HMAC key of grants and cookies (kept in the store, shared by every instance). */
  key: Uint8Array;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/** Whether a tenant's recordings are protected: its own setting, else the default. */
export function isProtected(
  tenant: { protectedRecordings?: boolean | null } | null | undefined,
  byDefault: boolean,
) {
  return tenant?.protectedRecordings ?? byDefault;
}

/**
 * The record as getRecordings lists it for a protected recording: every format link and preview image carries
 * the grant (see {@linkcode mintGrant}).
 */
export function withGrants(record: RecordingRecord, grant: string): RecordingRecord {
  const formats = Object.fromEntries(
    Object.entries(record.formats).map(([name, f]) => [name, {
      ...f,
      linkPath: f.linkPath === "" ? "" : withGrant(f.linkPath, grant),
      images: f.images.map((i) => ({ ...i, path: withGrant(i.path, grant) })),
    }]),
  );
  return { ...record, formats };
}
