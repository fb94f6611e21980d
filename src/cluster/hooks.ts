/**
 * Registering webhooks on the BBB servers' webhooks modules. Calls are signed with SHA-1, the only algorithm the
 * 2.6 module accepts (3.x accepts all four).
 *
 * @module
 */
import { BackendError, callBackend } from "../bbb/client.ts";
import { encodeQuery, type Params } from "../bbb/query.ts";
import { type HookRecord, setRegistration } from "../store/hooks.ts";
import type { ServerRecord } from "../store/servers.ts";
import type { ClusterContext } from "./context.ts";

/** What hook registration needs (the poller has it too). */
export type HookContext = Pick<ClusterContext, "kv" | "backendTimeoutMs" | "log"> & { fetch?: typeof fetch };

/** Register a hook on one server; records the server's hook id. Returns whether it worked. */
export async function registerHook(
  ctx: HookContext,
  server: ServerRecord,
  hook: HookRecord,
): Promise<boolean> {
  const params: Params = [["callbackURL", hook.callbackURL]];
  if (hook.meetingID) params.push(["meetingID", hook.meetingID]);
  if (hook.eventID) params.push(["eventID", hook.eventID]);
  if (hook.getRaw) params.push(["getRaw", "true"]);
  try {
    const answer = await callBackend({ ...server, checksum: "sha1" }, "hooks/create", encodeQuery(params), {
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
    await callBackend({ ...server, checksum: "sha1" }, "hooks/destroy", encodeQuery([["hookID", remoteId]]), {
      timeoutMs: ctx.backendTimeoutMs,
      fetch: ctx.fetch,
    });
  } catch (e) {
    if (!(e instanceof BackendError)) throw e;
    ctx.log.warn("hook removal failed", { server: server.id, error: e.message });
  }
}
