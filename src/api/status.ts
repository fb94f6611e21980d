/**
 * `GET /status`: a small read-only HTML page for people — one row per server with its state, health, meetings,
 * participants and a load bar — that reloads itself. Behind the optional admin token: an
 * `Authorization: Bearer` header, or `?token=` once, which sets an HttpOnly cookie and redirects to `/status`
 * without the token (so it leaves the address bar and the history).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { listAllMeetings, listSplits } from "../store/meetings.ts";
import { listServers, serverVersion } from "../store/servers.ts";
import { countUploads, recordingStats } from "../store/recordings.ts";
import { statfs } from "node:fs/promises";
import { bearerOf, plain, tokenMatches } from "./admin.ts";

/** Options of {@linkcode statusPage}. */
export interface StatusOptions {
  kv: Deno.Kv;
  /** The admin token, or `null` when the page is open. */
  adminToken: string | null;
  /** bbblb's public base URL: the cookie is `Secure` when it is https. */
  publicUrl: string;
  /** Seconds between automatic reloads. @default 10 */
  refreshSeconds?: number;
  /** @default Date.now */
  now?: () => number;
  /** The recordings directory (central custody): the page shows the import queue and the storage. */
  recordingsDir?: string | null;
}

const COOKIE = "bbblb_status";
/** How long the status cookie lasts, in seconds. */
const COOKIE_SECONDS = 12 * 3600;

/** The cookie value for a token: an HMAC of it, so the token itself never sits in the browser. */
function cookieValue(token: string): string {
  return createHmac("sha256", token).update("bbblb status page").digest("hex");
}

function cookieMatches(token: string, value: string | undefined): boolean {
  if (!value || !/^[0-9a-f]{64}$/.test(value)) return false;
  return timingSafeEqual(Buffer.from(cookieValue(token), "hex"), Buffer.from(value, "hex"));
}

/** Answer `GET /status`. */
export async function statusPage(c: Context, o: StatusOptions): Promise<Response> {
  if (o.adminToken !== null) {
    const given = c.req.query("token");
    if (given !== undefined) {
      if (!tokenMatches(o.adminToken, given)) return denied();
      setCookie(c, COOKIE, cookieValue(o.adminToken), {
        httpOnly: true,
        sameSite: "Strict",
        secure: o.publicUrl.startsWith("https:"),
        path: "/status",
        maxAge: COOKIE_SECONDS,
      });
      c.header("cache-control", "no-store");
      c.header("referrer-policy", "no-referrer");
      return c.redirect("/status", 303);
    }
    const ok = tokenMatches(o.adminToken, bearerOf(c.req.header("authorization"))) ||
      cookieMatches(o.adminToken, getCookie(c, COOKIE));
    if (!ok) return denied();
  }
  return new Response(await render(o), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
    },
  });
}

function denied(): Response {
  return plain(401, "unauthorized: open /status?token=TOKEN once, or send Authorization: Bearer TOKEN", {
    "www-authenticate": 'Bearer realm="bbblb"',
  });
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

async function render(o: StatusOptions): Promise<string> {
  const [servers, meetings, splits] = await Promise.all([
    listServers(o.kv),
    listAllMeetings(o.kv),
    listSplits(o.kv),
  ]);
  const counts = new Map<number, number>();
  for (const m of meetings) counts.set(m.value.serverId, (counts.get(m.value.serverId) ?? 0) + 1);
  const rows = servers.map((s) => {
    const effective = (s.loadMilli + s.stats.extraMilli) / 1000;
    return { s, effective, relative: effective / s.weight };
  });
  // Bars are relative to the busiest server (by load per weight), so the spread is visible at a glance.
  const max = Math.max(1, ...rows.map((r) => r.relative));
  const participants = servers.reduce((n, s) => n + s.stats.participants, 0);
  const online = servers.filter((s) => s.online).length;
  const refresh = o.refreshSeconds ?? 10;
  const now = new Date((o.now ?? Date.now)()).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  const body = rows.map(({ s, effective, relative }) => {
    const pct = Math.round((relative / max) * 100);
    const url = s.apiUrl.replace(/api\/$/, "");
    return `<tr class="server" data-server="${s.id}">
<td>${s.id}</td><td class="url">${esc(url)}</td>
<td class="version">${esc(serverVersion(s) ?? "?")}</td>
<td class="state state-${s.state}">${s.state}</td>
<td class="${s.online ? "online" : "offline"}">${s.online ? "online" : "offline"}${
      s.health.lastError
        ? `<div class="err" title="${esc(s.health.lastError)}">${esc(shortError(s.health.lastError))}</div>`
        : ""
    }</td>
<td class="num meetings">${counts.get(s.id) ?? 0}</td>
<td class="num participants">${s.stats.participants}</td>
<td class="load"><div class="loadwrap"><div class="bar" title="effective load ${effective} at weight ${s.weight}"><div class="fill" style="width:${pct}%"></div></div><span class="num">${effective}</span></div></td>
</tr>`;
  }).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${refresh}">
<title>bbblb status</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2330; background: #f6f7f9; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .3rem; }
p.summary { margin: 0 0 1rem; color: #4a5263; }
table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 3px #0002; min-width: 48rem; }
th, td { padding: .45rem .8rem; border-bottom: 1px solid #e3e6eb; text-align: left; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; }
td.num, span.num { font-variant-numeric: tabular-nums; }
td.num { text-align: right; }
.url { color: #4a5263; }
.state-enabled { color: #17803d; } .state-cordoned { color: #a15c00; }
.state-disabled { color: #6b7280; } .state-panic { color: #b91c1c; font-weight: 600; }
.online { color: #17803d; } .offline { color: #b91c1c; font-weight: 600; }
.err { font-size: .8rem; color: #6b7280; max-width: 18rem; }
.loadwrap { display: flex; gap: .6rem; align-items: center; }
.bar { width: 12rem; height: .8rem; background: #e3e6eb; border-radius: .4rem; overflow: hidden; }
.fill { height: 100%; background: #3b6fd8; }
footer { margin-top: 1rem; font-size: .8rem; color: #6b7280; }
</style>
</head>
<body>
<h1>bbblb status</h1>
<p class="summary">${servers.length} server(s), ${online} online · ${meetings.length} meeting(s) · ${participants} participant(s)</p>
<table>
<thead><tr><th>ID</th><th>Server</th><th>BBB</th><th>State</th><th>Health</th><th>Meetings</th><th>Participants</th><th>Load</th></tr></thead>
<tbody>
${body || '<tr><td colspan="7">No servers registered.</td></tr>'}
</tbody>
</table>
${
    splits.length === 0 ? "" : `<h2>Split meetings</h2>
<p class="summary">Running on two servers; bbblb heals each by its rule (the copy without participants is ended).</p>
<table class="splits">
<thead><tr><th>Meeting</th><th>Recorded on</th><th>Copy on</th><th>Participants in the copy</th></tr></thead>
<tbody>
${
      splits.map((x) =>
        `<tr class="split"><td>${
          esc(x.tenant ? `${x.tenant}: ${x.meetingID}` : x.meetingID)
        }</td><td class="num">${x.serverId}</td><td class="num">${x.copyServerId}</td><td class="num">${x.copyParticipants}</td></tr>`
      ).join("\n")
    }
</tbody>
</table>`
  }
${o.recordingsDir ? await recordingsSection(o.kv, o.recordingsDir) : ""}
<footer>As of ${now}; this page reloads every ${refresh} s. Participants as of the last poll.</footer>
</body>
</html>
`;
}

/** Bytes as people read them (binary units, one decimal). */
export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** The recordings section: the import queue, and the storage used by recordings and free on their disk. */
async function recordingsSection(kv: Deno.Kv, dir: string): Promise<string> {
  const [uploads, stats] = await Promise.all([countUploads(kv), recordingStats(kv)]);
  const disk = await statfs(dir).then(
    (fs) => ({ free: Number(fs.bavail) * Number(fs.bsize), size: Number(fs.blocks) * Number(fs.bsize) }),
    () => null,
  );
  return `<h2>Recordings</h2>
<table class="recordings">
<tbody>
<tr><th>Import queue</th><td class="num queue">${
    uploads.received + uploads.importing
  }</td><td>${uploads.received} waiting, ${uploads.importing} importing; ${uploads.failed} failed in the last week</td></tr>
<tr><th>Recordings</th><td class="num count">${stats.count}</td><td>in custody</td></tr>
<tr><th>Storage used</th><td class="num used">${humanBytes(stats.bytes)}</td><td>by recordings</td></tr>
<tr><th>Storage free</th><td class="num free">${disk ? humanBytes(disk.free) : "unknown"}</td><td>${
    disk ? `of ${humanBytes(disk.size)} on the disk of ${esc(dir)}` : `cannot read the disk of ${esc(dir)}`
  }</td></tr>
</tbody>
</table>`;
}

/** What a server's last failure says, in a few words, for the status page (the full text is its tooltip). */
const SHORT_ERRORS: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/refused bbblb's checksum/, () => "wrong secret (the server refused bbblb's checksum)"],
  [/dns error|failed to lookup address|Name or service not known/i, () => "host name not found (DNS)"],
  [/connection refused/i, () => "connection refused"],
  [/no answer from .* within (\d+) ms/, (m) => `no answer within ${Number(m[1]) / 1000} s`],
  [/timed? ?out/i, () => "timed out"],
  [/certificate|tls|ssl/i, () => "TLS error (certificate?)"],
  [/HTTP (\d{3}) from/, (m) => `HTTP ${m[1]} instead of a BBB answer`],
  [/did not answer BBB/, () => "not a BBB answer (wrong URL?)"],
  [/answered (\w+)/, (m) => `answered ${m[1]}`],
  [/blocked|network is unreachable|no route to host/i, () => "network unreachable"],
];

/**
 * A server's last error in a few words: the known causes by name, anything else cut to 80 characters.
 *
 * @example
 * ```ts
 * import { shortError } from "./status.ts";
 * const raw = "getMeetings: cannot reach bbb1.example.org: fetch failed (error sending request for url " +
 *   "(https://bbb1.example.org/bigbluebutton/api/getMeetings): client error (Connect): dns error: failed to " +
 *   "lookup address information: Name or service not known)";
 * if (shortError(raw) !== "host name not found (DNS)") throw new Error(shortError(raw));
 * ```
 */
export function shortError(message: string): string {
  for (const [pattern, say] of SHORT_ERRORS) {
    const m = message.match(pattern);
    if (m) return say(m);
  }
  const text = message.replace(/^\w+: /, "");
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
