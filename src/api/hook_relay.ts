/**
 * The webhook event relay: BBB servers' webhooks modules post events to bbblb's per-hook relay link; bbblb checks
 * the checksum against the servers' secrets and passes the event on to the front-end's callbackURL, re-signed
 * with the API secret, as bbb-webhooks would have: `?checksum=sha1(callbackURL + body + secret)` (bbb-webhooks
 * `callback-emitter.js`). The body (form fields `domain`, `event`, `timestamp`) passes through as it came.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { algorithmForLength } from "../bbb/checksum.ts";
import { hookChecksum, hookRelayUrl, verifyHookRelay } from "../cluster/hooks.ts";
import { getHook } from "../store/hooks.ts";
import { listServers } from "../store/servers.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import { listTenants } from "../store/tenants.ts";
import { tenantOfBackendID } from "../cluster/tenancy.ts";
import type { ApiContext } from "./context.ts";

function plain(status: number, text: string): Response {
  return new Response(text, { status, headers: { "content-type": "text/plain;charset=utf-8" } });
}

/** Whether two strings are equal, compared in constant time for equal lengths. */
function same(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Handle `POST /bigbluebutton/callback/hook/<hookID>/<sig>?checksum=…`. 403 when the link or the checksum does not
 * verify against any server's secret (also with a Bearer secret, bbb-webhooks' `auth2_0` mode); 404 for a hook
 * that was destroyed; otherwise the front-end's status (bbb-webhooks retries on failure), 502 when it is down.
 */
export async function relayHookEvent(ctx: ApiContext, c: Context): Promise<Response> {
  const { hookID, sig } = c.req.param() as Record<string, string>;
  if (!verifyHookRelay(ctx.linkKey, hookID, sig)) return plain(403, "invalid hook link");
  const hook = await getHook(ctx.kv, hookID);
  if (!hook) return plain(404, "unknown hook");
  const body = await c.req.text();
  const checksum = c.req.query("checksum") ?? "";
  const bearer = (c.req.header("authorization") ?? "").replace(/^Bearer\s+/i, "");
  const registered = hookRelayUrl(ctx.publicUrl, ctx.linkKey, hookID);
  const algorithm = algorithmForLength(checksum.length);
  const secrets = (await listServers(ctx.kv)).map((s) => s.secret);
  const verified = secrets.some((secret) =>
    (algorithm !== undefined &&
      same(checksum.toLowerCase(), hookChecksum(algorithm, registered, body, secret))) ||
    (bearer !== "" && same(bearer, secret))
  );
  if (!verified) return plain(403, "the event does not verify against any server's secret");

  const tenants = new Set((await listTenants(ctx.kv)).map((t) => t.name));
  const forwarded = eventsFor(body, tenants, DEFAULT_TENANT);
  if (forwarded === null) return plain(200, ""); // nothing in it for this hook's front-end
  const sum = hookChecksum("sha1", hook.callbackURL, forwarded, ctx.secrets()[0]);
  const target = `${hook.callbackURL}${hook.callbackURL.includes("?") ? "&" : "?"}checksum=${sum}`;
  try {
    const res = await ctx.fetch(target, {
      method: "POST",
      body: forwarded,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      signal: AbortSignal.timeout(ctx.backendTimeoutMs),
      redirect: "manual",
    });
    await res.body?.cancel();
    return plain(res.status, "");
  } catch (e) {
    ctx.log.warn("hook event relay failed", { hookID, error: String((e as Error)?.message) });
    return plain(502, "the front-end could not be reached");
  }
}

/** How BBB names breakout rooms: `<parent's internalMeetingID>-<sequence>`. */
const BREAKOUT_ID = /^[0-9a-f]{40}-\d+-\d+$/;

/**
 * The part of an event post a hook of `tenant` may see: events of meetings that are the tenant's, with their
 * external meeting IDs as the tenant knows them (hooks are the default tenant's for now, so tenants' meetings
 * never reach the default tenant's front-ends). `null` when nothing is left; the body as it came when nothing
 * changed. Posts that are not bbb-webhooks' shape pass unchanged.
 */
export function eventsFor(body: string, tenants: ReadonlySet<string>, tenant: string): string | null {
  const form = new URLSearchParams(body);
  const raw = form.get("event");
  let events: unknown;
  try {
    events = raw === null ? null : JSON.parse(raw);
  } catch {
    return body;
  }
  if (!Array.isArray(events)) return body;
  let changed = false;
  const kept = events.filter((e) => {
    const meeting = e?.data?.attributes?.meeting;
    const external = meeting?.["external-meeting-id"];
    // With tenants, an event whose meeting cannot be told (raw events, breakout rooms, whose IDs BBB derives from
    // the parent's internal ID) is not passed on: it could be another tenant's.
    if (typeof external !== "string" || BREAKOUT_ID.test(external)) {
      if (tenants.size === 0) return true;
      changed = true;
      return false;
    }
    const owner = tenantOfBackendID(external, tenants);
    if (owner.tenant !== tenant) {
      changed = true;
      return false;
    }
    if (owner.meetingID !== external) {
      meeting["external-meeting-id"] = owner.meetingID;
      changed = true;
    }
    return true;
  });
  if (kept.length === 0) return null;
  if (!changed) return body;
  form.set("event", JSON.stringify(kept));
  return form.toString();
}
