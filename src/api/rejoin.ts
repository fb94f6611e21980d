/**
 * `rejoin`: where users land when they leave a meeting (its logoutURL is bbblb's signed rejoin link). If the
 * meeting moved, a user whose browser carries the sealed join cookie goes straight to a join on the new server;
 * otherwise users go to the creator's own logoutURL. Only URLs bbblb stored at create time are ever redirect
 * targets, so rejoin cannot become an open redirect.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { generateCookie, getCookie } from "hono/cookie";
import type { Context } from "hono";
import { backendUrl } from "../bbb/client.ts";
import { encodeQuery, get, type Params } from "../bbb/query.ts";
import { httpUrlOrNull, openTicket, sealTicket, verifyRejoinLink } from "../cluster/links.ts";
import { backendMeetingID } from "../cluster/tenancy.ts";
import {
  getHistory,
  getMeeting,
  type HistoryRecord,
  loadCreateParams,
  type MeetingRecord,
} from "../store/meetings.ts";
import { getServerWithHealth } from "../store/servers.ts";
import type { ApiContext } from "./context.ts";

/** How long a join cookie lets a user follow a moved meeting (ms). */
const TICKET_MS = 12 * 60 * 60 * 1000;

/** Join parameters never replayed by rejoin: the old checksum, and a createTime of the old instance. */
const NOT_REPLAYED = new Set(["checksum", "createTime", "redirect"]);

/** Cookie names already computed (a join computes its meeting's; cleared when full). */
const cookieNames = new Map<string, string>();

/** The cookie name for one meeting (a hash, so meetingIDs never show in cookie names). */
export function cookieName(tenant: string, meetingID: string): string {
  const id = `${tenant}\u0000${meetingID}`;
  let name = cookieNames.get(id);
  if (name === undefined) {
    name = `bbblb_join_${createHash("sha256").update(id).digest("hex").slice(0, 16)}`;
    if (cookieNames.size >= 10_000) cookieNames.clear();
    cookieNames.set(id, name);
  }
  return name;
}

const cookieAttributes = new Map<string, string>();

/**
 * What follows the value in a join cookie for a public URL (remembered: building it on every join cost more):
 * its lifetime, the rejoin path it is scoped to, HttpOnly, Secure when bbblb's URL is https, SameSite=Lax.
 */
function cookieAttributesOf(publicUrl: string): string {
  let attributes = cookieAttributes.get(publicUrl);
  if (attributes === undefined) {
    // Built by Hono's serializer once, with an empty value, so the attributes are exactly what it writes.
    attributes = generateCookie("x", "", {
      path: `${new URL(publicUrl).pathname.replace(/\/+$/, "")}/bigbluebutton/api/rejoin`,
      httpOnly: true,
      secure: publicUrl.startsWith("https:"),
      sameSite: "Lax",
      maxAge: TICKET_MS / 1000,
    }).slice("x=".length);
    cookieAttributes.set(publicUrl, attributes);
  }
  return attributes;
}

/**
 * The `Set-Cookie` value for a join through bbblb: the join's parameters sealed (encrypted and authenticated,
 * expiring; see `sealTicket`), so that `rejoin` can rebuild the join on the meeting's next server. HttpOnly, Secure
 * when bbblb's URL is https, SameSite=Lax (a Strict cookie is not sent when the user comes back from the BBB
 * server's page), scoped to the rejoin path. `null` when the parameters are too large for a cookie. Costs no store
 * access.
 */
export function joinCookie(ctx: ApiContext, meeting: MeetingRecord, params: Params): string | null {
  const name = cookieName(meeting.tenant, meeting.meetingID);
  const sealed = sealTicket(ctx.cookieKey, name, {
    tenant: meeting.tenant,
    meetingID: meeting.meetingID,
    params: params.filter(([n]) => !NOT_REPLAYED.has(n)),
    exp: Date.now() + TICKET_MS,
  });
  if (sealed.length > 3800) return null;
  // base64url needs no escaping in a cookie value
  return `${name}=${sealed}${cookieAttributesOf(ctx.publicUrl)}`;
}

/** A small HTML page of bbblb's own (for browsers, not API clients). */
function page(status: number, title: string, text: string): Response {
  const esc = (s: string) =>
    s.replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
    );
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
    `<body style="font-family:sans-serif;max-width:36em;margin:4em auto;padding:0 1em">` +
    `<h1>${esc(title)}</h1><p>${esc(text)}</p></body></html>`;
  return new Response(body, {
    status,
    headers: { "content-type": "text/html;charset=utf-8", "cache-control": "no-store" },
  });
}

function redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { location, "cache-control": "no-store" } });
}

/**
 * Where users of a meeting instance go when they leave: the logoutURL its creator gave (bbblb put its rejoin link
 * in its place), else `BBBLB_LOGOUT_URL`; `null` when neither is set. Only http(s) URLs bbblb stored.
 *
 * @param historyId the instance, or `null` for an unknown meeting (then only `BBBLB_LOGOUT_URL`)
 */
export async function logoutTarget(ctx: ApiContext, historyId: string | null): Promise<string | null> {
  const params = historyId === null ? null : await loadCreateParams(ctx.kv, historyId);
  return httpUrlOrNull(params ? get(params, "logoutURL") : null) ?? ctx.logoutUrl;
}

/** Follow `movedTo` from a history row to the latest instance (bounded, so a loop cannot hang a request). */
async function latestInstance(kv: Deno.Kv, first: HistoryRecord): Promise<HistoryRecord> {
  let current = first;
  for (let hops = 0; hops < 50 && current.movedTo; hops++) {
    const next = await getHistory(kv, current.movedTo);
    if (!next) break;
    current = next;
  }
  return current;
}

/**
 * Handle `GET /bigbluebutton/api/rejoin?meetingID=<historyId>&checksum=<link checksum>`.
 *
 * - invalid or tampered link: 403 page, no redirect;
 * - the meeting moved and runs, and the browser has the join cookie for it: 302 to a join on the new server,
 *   re-signed, without a stale `createTime`;
 * - moved, but no valid cookie: a page asking the user to join again;
 * - not moved (or ended): 302 to the creator's logoutURL, else `BBBLB_LOGOUT_URL`, else a page saying the
 *   meeting has ended.
 */
export async function rejoin(ctx: ApiContext, c: Context): Promise<Response> {
  const historyId = c.req.query("meetingID") ?? "";
  const checksum = c.req.query("checksum") ?? "";
  if (historyId.length > 64 || !verifyRejoinLink(ctx.linkKey, historyId, checksum)) {
    return page(
      403,
      "Invalid link",
      "This link is not valid. Please join the meeting again from where you started.",
    );
  }
  const first = await getHistory(ctx.kv, historyId);
  if (!first) return page(404, "Unknown meeting", "This meeting is not known here any more.");
  const latest = await latestInstance(ctx.kv, first);
  const current = (await getMeeting(ctx.kv, latest.tenant, latest.meetingID)).value;
  const movedAndRunning = latest.historyId !== first.historyId && current?.status === "running" &&
    current.historyId === latest.historyId;

  if (movedAndRunning) {
    const name = cookieName(current.tenant, current.meetingID);
    const sealed = getCookie(c, name);
    const ticket = sealed ? openTicket(ctx.cookieKey, name, sealed, Date.now()) : null;
    const server = await getServerWithHealth(ctx.kv, current.serverId);
    if (ticket && ticket.meetingID === current.meetingID && ticket.tenant === current.tenant && server) {
      // The ticket holds the tenant's own meetingID; the server knows the scoped one.
      const params = ticket.params.filter(([n]) => !NOT_REPLAYED.has(n))
        .map(([n, v]): [string, string] => [n, n === "meetingID" ? backendMeetingID(current.tenant, v) : v]);
      ctx.log.info("rejoin after a move", { meetingID: current.meetingID, server: server.server.id });
      return redirect(backendUrl(server.server, "join", encodeQuery(params)));
    }
    return page(
      200,
      "The meeting has moved",
      "This meeting continues on another server. Please join it again from where you started (your course page " +
        "or room link).",
    );
  }
  const target = await logoutTarget(ctx, first.historyId);
  if (target) return redirect(target);
  return page(200, "The meeting has ended", "You have left the meeting. You can close this window.");
}
