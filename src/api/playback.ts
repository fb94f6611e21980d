/**
 * Playback of the recordings in central custody, on the paths a BBB server serves them under: the presentation
 * player (`/playback/presentation/2.3/…`, from `--playback-player-dir`), each format's files, the text tracks,
 * and the 2.0 player's old links (redirected to 2.3). Who may see what is decided in `recordings/access.ts`:
 * published recordings only, on their tenant's host only, and for protected recordings only with a grant or
 * the cookie it sets. `GET /bbblb/v1/playback/auth` answers the same question for nginx's `auth_request`
 * (204: nginx may serve the file from the recordings directory; 401: nginx hands the request to bbblb, which
 * answers it as it would without nginx: 404, 403, or the grant's redirect).
 *
 * @module
 */
import { join } from "node:path";
import type { Context } from "hono";
import { getRecording, type RecordingRecord } from "../store/recordings.ts";
import {
  COOKIE_NAME,
  cookieValid,
  cookieValues,
  folderOf,
  GRANT_PARAM,
  grantValid,
  isPage,
  isProtected,
  mintCookie,
  parsePlaybackPath,
  type PlaybackPath,
  PLAYER_PATH,
  recordingPaths,
} from "../recordings/access.ts";
import { RECORD_ID_PATTERN } from "../recordings/layout.ts";
import { serveFile } from "../recordings/file_server.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import { baseFor } from "./central_recordings.ts";
import type { ApiContext } from "./context.ts";
import { requestHost } from "./tenants.ts";

/** The nginx `auth_request` endpoint. */
export const AUTH_PATH = "/bbblb/v1/playback/auth";

/** What bbblb does with a playback request. */
type Decision =
  | { status: 404 | 403 }
  | { redirect: string; cookies: string[] }
  | { file: string; protected: boolean; cookies: string[]; cacheControl?: string };

/** Default lifetime of the cookie a grant sets, in minutes (a long recording watched to its end). */
const COOKIE_MINUTES = 360;

/** Whether the request's host is the one the recording's tenant's links name. */
async function onTenantHost(ctx: ApiContext, req: Request, trustProxy: boolean, tenant: string) {
  const want = new URL(await baseFor(ctx, tenant)).hostname.toLowerCase();
  return requestHost(req, trustProxy) === want;
}

/**
 * Decide a playback request (`url` is what the browser asked for: for nginx's subrequest, the original URI).
 */
async function decide(ctx: ApiContext, req: Request, url: URL, trustProxy: boolean): Promise<Decision> {
  const playback = ctx.recordings?.playback;
  const path = parsePlaybackPath(url.pathname);
  if (!playback || !ctx.recordings || path === null) return { status: 404 };
  if (path.kind === "asset") {
    if (playback.playerDir === null) return { status: 404 };
    return {
      file: join(playback.playerDir, ...path.rel),
      protected: false,
      cookies: [],
      cacheControl: "public, max-age=3600",
    };
  }
  const recordID = path.kind === "legacy" ? url.searchParams.get("meetingId") ?? "" : path.recordID;
  if (!RECORD_ID_PATTERN.test(recordID)) return { status: 404 };
  const record = (await getRecording(ctx.kv, recordID))?.value ?? null;
  if (!record || record.state !== "published") return { status: 404 };
  if (!(await onTenantHost(ctx, req, trustProxy, record.tenant))) return { status: 404 };
  if (path.kind === "legacy") {
    if (!record.formats.presentation || playback.playerDir === null) return { status: 404 };
    // bbb's presentation.nginx: the 2.0 link's meetingId becomes the 2.3 path; the rest of the query stays.
    const query = new URLSearchParams(url.searchParams);
    query.delete("meetingId");
    const rest = query.toString();
    return { redirect: `${PLAYER_PATH}/${recordID}${rest ? `?${rest}` : ""}`, cookies: [] };
  }
  let file: string;
  if (path.kind === "player") {
    if (!record.formats.presentation || playback.playerDir === null) return { status: 404 };
    file = join(playback.playerDir, "index.html");
  } else {
    const folder = folderOf(record, path.prefix);
    if (folder === null) return { status: 404 };
    // A folder's index is served at its path with a slash (as nginx does), so its relative links resolve.
    if (path.rel.length === 0 && !url.pathname.endsWith("/")) {
      return { redirect: `${url.pathname}/${url.search}`, cookies: [] };
    }
    file = join(
      ctx.recordings.custody.dir,
      folder,
      recordID,
      ...(path.rel.length ? path.rel : ["index.html"]),
    );
  }
  const tenants = await ctx.tenants.snapshot();
  const tenant = record.tenant === DEFAULT_TENANT ? tenants.defaults : tenants.byName.get(record.tenant);
  if (!isProtected(tenant, playback.protectedByDefault)) return { file, protected: false, cookies: [] };
  const now = (playback.now ?? Date.now)();
  const grant = url.searchParams.get(GRANT_PARAM);
  if (grant !== null && grantValid(playback.key, grant, recordID, record.tenant, now)) {
    const cookies = cookiesFor(ctx, record, playback.key, now, playback.cookieMinutes ?? COOKIE_MINUTES);
    if (isPage(path, record)) {
      const query = new URLSearchParams(url.searchParams);
      query.delete(GRANT_PARAM);
      const rest = query.toString();
      return { redirect: `${url.pathname}${rest ? `?${rest}` : ""}`, cookies };
    }
    return { file, protected: true, cookies };
  }
  if (cookieValid(playback.key, cookieValues(req.headers.get("cookie")), recordID, record.tenant, now)) {
    return { file, protected: true, cookies: [] };
  }
  return { status: 403 };
}

/** The `Set-Cookie` values a grant sets: one cookie scoped to each path of the recording. */
function cookiesFor(
  ctx: ApiContext,
  record: RecordingRecord,
  key: Uint8Array,
  now: number,
  minutes: number,
): string[] {
  const value = mintCookie(key, record.recordID, record.tenant, now + minutes * 60_000);
  // Played inside a front-end's frame, the cookie is a third-party one: only SameSite=None reaches it (https).
  const attrs = ctx.publicUrl.startsWith("https:") ? "Secure; SameSite=None" : "SameSite=Lax";
  return recordingPaths(record).map((p) =>
    `${COOKIE_NAME}=${value}; Path=${p}; Max-Age=${minutes * 60}; HttpOnly; ${attrs}`
  );
}

const PAGES = {
  404: "This recording does not exist, or it is not published.",
  403:
    "This recording is protected. Open it again from the page that lists it; its links are valid for a short time.",
};

function refusal(status: 404 | 403, method: string): Response {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${status}</title></head>` +
    `<body><p>${PAGES[status]}</p></body></html>\n`;
  return new Response(method === "HEAD" ? null : body, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}

/** Whether a path is one bbblb serves recordings under (for routing only; the decision reads it again). */
export function isPlaybackPath(path: string): boolean {
  return parsePlaybackPath(path) !== null;
}

/**
 * Answer a GET or HEAD of a playback path (`path` as the app read it, repeated slashes merged).
 *
 * @returns the answer: a file (200, 206, 304, 416), a redirect, 403 or 404
 */
export async function playbackRequest(
  ctx: ApiContext,
  c: Context,
  path: string,
  trustProxy: boolean,
): Promise<Response> {
  const req = c.req.raw;
  const url = new URL(req.url);
  url.pathname = path;
  const d = await decide(ctx, req, url, trustProxy);
  if ("status" in d) return refusal(d.status, req.method);
  const headers = new Headers({ "referrer-policy": "no-referrer" });
  for (const cookie of d.cookies) headers.append("set-cookie", cookie);
  if ("redirect" in d) {
    headers.set("location", d.redirect);
    headers.set("cache-control", "no-store");
    return new Response(null, { status: d.cookies.length > 0 ? 303 : 302, headers });
  }
  const res = await serveFile(req, d.file, {
    cacheControl: d.cacheControl ?? (d.protected ? "private, no-cache" : "no-cache"),
  });
  if (res === null) return refusal(404, req.method);
  for (const [k, v] of headers) {
    if (k === "set-cookie") res.headers.append(k, v);
    else res.headers.set(k, v);
  }
  return res;
}

/**
 * nginx's `auth_request` subrequest: the original URI in `X-Original-URI`. 204 when nginx may serve that file of
 * a recording from the recordings directory itself; 401 for everything else (nginx then passes the request to
 * bbblb, which answers it: 404, 403, a grant's redirect, the player).
 */
export async function playbackAuth(ctx: ApiContext, c: Context, trustProxy: boolean): Promise<Response> {
  const original = c.req.header("x-original-uri") ?? "";
  let url: URL;
  try {
    url = new URL(original.startsWith("/") ? original : "/", "http://x");
  } catch {
    return new Response(null, { status: 401 });
  }
  url.pathname = url.pathname.replace(/\/{2,}/g, "/");
  const path: PlaybackPath | null = parsePlaybackPath(url.pathname);
  if (path?.kind !== "file") return new Response(null, { status: 401 });
  const d = await decide(ctx, c.req.raw, url, trustProxy);
  const served = "file" in d && d.cookies.length === 0;
  return new Response(null, { status: served ? 204 : 401, headers: { "cache-control": "no-store" } });
}
