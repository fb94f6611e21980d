/**
 * The callback relay: BBB servers call bbblb's relay links (put into the create parameters in place of the
 * front-end's callback URLs); bbblb checks what arrives against the node's secret and passes it on to the URL the
 * front-end gave, re-signed with the API secret the front-end knows. BBB signs recording-ready callbacks with the
 * node's own secret, which the front-end cannot verify.
 *
 * Shapes (shared/reference/bbb-api.md §2, scalelite.md §4.4): recording-ready is a POST of form field
 * `signed_parameters`, a JWT (HS256) of `{meeting_id, record_id}`; the analytics callback is a POST of JSON with
 * `Authorization: Bearer <JWT, HS512>`; the end callback is a GET with `meetingID` and `recordingmarks`.
 *
 * @module
 */
import type { Context } from "hono";
import { jwtVerify, SignJWT } from "jose";
import { get, replaceParam } from "../bbb/query.ts";
import { type CallbackKind, verifyRelay } from "../cluster/callbacks.ts";
import { httpUrlOrNull } from "../cluster/links.ts";
import { getHistory, loadCreateParams, rememberRecordingServers } from "../store/meetings.ts";
import { getServerWithHealth } from "../store/servers.ts";
import type { ApiContext } from "./context.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import { postRecordingReady } from "../recordings/ready.ts";

/** The secret that signs what is relayed to a tenant's front-end, or `null` when the tenant is gone. */
async function relaySecret(ctx: ApiContext, tenant: string): Promise<string | null> {
  if (tenant === DEFAULT_TENANT) return ctx.secrets()[0];
  return (await ctx.tenants.snapshot()).byName.get(tenant)?.secrets[0] ?? null;
}

const KINDS: CallbackKind[] = ["recording-ready", "analytics", "end"];

function plain(status: number, text: string): Response {
  return new Response(text, { status, headers: { "content-type": "text/plain;charset=utf-8" } });
}

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/**
 * Handle `/bigbluebutton/callback/<kind>/<historyId>/<param>/<sig>`. Answers the front-end's HTTP status (so BBB
 * sees a failure and may retry), 403 for a bad link or a callback that does not verify against the node's
 * secret, 404 when the meeting instance or its callback URL is unknown (or its tenant was removed), 502 when the
 * front-end cannot be reached. What reaches a tenant's front-end is signed with that tenant's first secret and
 * names the tenant's own meetingID.
 */
export async function relayCallback(ctx: ApiContext, c: Context): Promise<Response> {
  const { kind, historyId, name, sig } = c.req.param() as Record<string, string>;
  if (
    !KINDS.includes(kind as CallbackKind) ||
    !verifyRelay(ctx.linkKey, kind as CallbackKind, historyId, name, sig)
  ) {
    return plain(403, "invalid callback link");
  }
  const history = await getHistory(ctx.kv, historyId);
  const params = history ? await loadCreateParams(ctx.kv, historyId) : null;
  const target = httpUrlOrNull(params ? get(params, name) : undefined);
  const server = history ? await getServerWithHealth(ctx.kv, history.serverId) : null;
  if (!history || !target || !server) return plain(404, "unknown callback");
  // A tenant's front-end verifies with its own first secret (the default tenant's: the API secret).
  const apiSecret = await relaySecret(ctx, history.tenant);
  if (apiSecret === null) return plain(404, "unknown callback");
  const signal = AbortSignal.timeout(ctx.backendTimeoutMs);

  try {
    if (kind === "recording-ready") {
      const form = await c.req.parseBody();
      const token = typeof form.signed_parameters === "string" ? form.signed_parameters : "";
      let payload;
      try {
        ({ payload } = await jwtVerify(token, key(server.server.secret), {
          algorithms: ["HS256", "HS384", "HS512"],
        }));
      } catch {
        return plain(403, "signed_parameters do not verify");
      }
      const recordID = typeof payload.record_id === "string" ? payload.record_id : null;
      if (ctx.recordings) {
        // Central custody: the server's callback (one per published format) is dropped; bbblb sends its own,
        // once, after it imported the recording (recordings/ready.ts).
        ctx.log.info("recording-ready callback of the server dropped: sent after the import", {
          meetingID: history.meetingID,
          server: history.serverId,
        });
        return plain(200, "");
      }
      if (recordID) await rememberRecordingServers(ctx.kv, new Map([[recordID, history.serverId]]));
      const status = await postRecordingReady(
        ctx.fetch,
        target,
        { meetingID: history.meetingID, recordID: payload.record_id },
        apiSecret,
        ctx.backendTimeoutMs,
      );
      ctx.log.info("recording-ready callback relayed", { meetingID: history.meetingID, status });
      return plain(status, "");
    }
    if (kind === "analytics") {
      const bearer = (c.req.header("authorization") ?? "").replace(/^Bearer\s+/i, "");
      try {
        await jwtVerify(bearer, key(server.server.secret), { algorithms: ["HS256", "HS384", "HS512"] });
      } catch {
        return plain(403, "authorization does not verify");
      }
      const body = await c.req.text();
      const token = await new SignJWT({}).setProtectedHeader({ alg: "HS512" }).setIssuedAt()
        .setExpirationTime("24h")
        .sign(key(apiSecret));
      const res = await ctx.fetch(target, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${token}`,
          "user-agent": "BigBlueButton Analytics Callback",
        },
        signal,
        redirect: "manual",
      });
      await res.body?.cancel();
      ctx.log.info("analytics callback relayed", { meetingID: history.meetingID, status: res.status });
      return plain(res.status, "");
    }
    // end: BBB calls it with GET and appends meetingID and recordingmarks; they pass on as they came, except that
    // a tenant's front-end gets its own meetingID rather than the scoped one its server knows.
    let query = new URL(c.req.url).search.slice(1);
    if (history.tenant !== DEFAULT_TENANT && c.req.query("meetingID") !== undefined) {
      query = replaceParam(query, "meetingID", history.meetingID);
    }
    const url = query ? `${target}${target.includes("?") ? "&" : "?"}${query}` : target;
    const res = await ctx.fetch(url, { signal, redirect: "manual" });
    await res.body?.cancel();
    ctx.log.info("end callback relayed", { meetingID: history.meetingID, status: res.status });
    return plain(res.status, "");
  } catch (e) {
    ctx.log.warn("callback relay failed", {
      kind,
      meetingID: history.meetingID,
      error: String((e as Error)?.message),
    });
    return plain(502, "the front-end could not be reached");
  }
}
