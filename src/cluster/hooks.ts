/**
 * Registering webhooks on the BBB servers' webhooks modules. Calls are signed with SHA-1, the only algorithm the
 * 2.6 module accepts (3.x accepts all four). Servers call bbblb's relay (a signed link per hook), which passes
 * each event on to the front-end's URL signed with the API secret, as if bbblb were the BBB server.
 *
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { BackendError, callBackend } from "../bbb/client.ts";
import { encodeQuery, type Params } from "../bbb/query.ts";
import { type HookRecord, setRegistration } from "../store/hooks.ts";
import type { ServerRecord } from "../store/servers.ts";
import type { ClusterContext } from "./context.ts";

/** What hook registration needs (the poller has it too). */
export type HookContext =
  & Pick<ClusterContext, "kv" | "backendTimeoutMs" | "log" | "publicUrl" | "linkKey">
  & {
    fetch?: typeof fetch;
  };

function hookSignature(linkKey: Uint8Array, hookID: string): string {
  return createHmac("sha256", linkKey).update(`hook:${hookID}`).digest("hex").slice(0, 32);
}

/** The relay link registered on the servers for a hook: `BASE/bigbluebutton/callback/hook/<hookID>/<sig>`. */
export function hookRelayUrl(publicUrl: string, linkKey: Uint8Array, hookID: string): string {
  return `${publicUrl}/bigbluebutton/callback/hook/${encodeURIComponent(hookID)}/${
    hookSignature(linkKey, hookID)
  }`;
}

/** Whether a hook relay link's signature is right (constant time). */
export function verifyHookRelay(linkKey: Uint8Array, hookID: string, sig: string): boolean {
  const expected = new TextEncoder().encode(hookSignature(linkKey, hookID));
  const given = new TextEncoder().encode(sig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The checksum bbb-webhooks puts on a callback: `sha(callbackURL + body + secret)`, hex, with the algorithm its
 * length implies (bbb-webhooks `callback-emitter.js`; SHA-1 unless the module was configured otherwise).
 */
export function hookChecksum(algorithm: string, callbackURL: string, body: string, secret: string): string {
  return createHash(algorithm).update(callbackURL + body + secret).digest("hex");
}

/** A server's webhooks module as a backend: signed with its `hooksChecksum`, SHA-1 unless set. */
function webhooksOf(server: ServerRecord): ServerRecord {
  return { ...server, checksum: server.hooksChecksum ?? "sha1" };
}

/** Register a hook on one server; records the server's hook id. Returns whether it worked. */
export async function registerHook(
  ctx: HookContext,
  server: ServerRecord,
  hook: HookRecord,
): Promise<boolean> {
  const params: Params = [["callbackURL", hookRelayUrl(ctx.publicUrl, ctx.linkKey, hook.hookID)]];
  if (hook.meetingID) params.push(["meetingID", hook.meetingID]);
  if (hook.eventID) params.push(["eventID", hook.eventID]);
  if (hook.getRaw) params.push(["getRaw", "true"]);
  try {
    const answer = await callBackend(webhooksOf(server), "hooks/create", encodeQuery(params), {
      timeoutMs: ctx.backendTimeoutMs,
      fetch: ctx.fetch,
    });
    const remoteId = answer.response.hookID;
    if (answer.response.returncode !== "SUCCESS" || typeof remoteId !== "string") {
      ctx.log.warn("hook registration refused", { server: server.id, hookID: hook.hookID });
      return false;
    }
    await setRegistration(ctx.kv, hook.hookID, server.id, remoteId);
    return true;
  } catch (e) {
    if (!(e instanceof BackendError)) throw e;
    ctx.log.warn("hook registration failed", { server: server.id, hookID: hook.hookID, error: e.message });
    return false;
  }
}

/** Remove a hook's registration from one server (best effort; failures are logged). */
export async function unregisterHook(
  ctx: HookContext,
  server: ServerRecord,
  remoteId: string,
): Promise<void> {
  try {
    await callBackend(webhooksOf(server), "hooks/destroy", encodeQuery([["hookID", remoteId]]), {
      timeoutMs: ctx.backendTimeoutMs,
      fetch: ctx.fetch,
    });
  } catch (e) {
    if (!(e instanceof BackendError)) throw e;
    ctx.log.warn("hook removal failed", { server: server.id, error: e.message });
  }
}
