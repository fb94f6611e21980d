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
import { keys } from "../store/keys.ts";
import type { HookRecord } from "../store/hooks.ts";
import { listServers } from "../store/servers.ts";
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
  const hook = (await ctx.kv.get<HookRecord>(keys.hook(hookID))).value;
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

  const sum = hookChecksum("sha1", hook.callbackURL, body, ctx.secrets()[0]);
  const target = `${hook.callbackURL}${hook.callbackURL.includes("?") ? "&" : "?"}checksum=${sum}`;
  try {
    const res = await ctx.fetch(target, {
      method: "POST",
      body,
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
