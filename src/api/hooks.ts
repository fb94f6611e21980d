/**
 * Webhooks (`hooks/create`, `hooks/list`, `hooks/destroy`): a hook created through bbblb is registered on every
 * server (the poller registers it on servers added later or back from an outage), kept in the store and listed
 * with bbblb's own ids; destroying it removes it everywhere.
 *
 * @module
 */
import { BbbError } from "../bbb/errors.ts";
import { get } from "../bbb/query.ts";
import { registerHook, unregisterHook } from "../cluster/hooks.ts";
import { httpUrlOrNull } from "../cluster/links.ts";
import { listTenants } from "../store/tenants.ts";
import { mapLimit } from "../cluster/map_limit.ts";
import { addHook, listHooks, removeHook } from "../store/hooks.ts";
import { listServers } from "../store/servers.ts";
import type { ApiContext } from "./context.ts";
import type { ApiRequest } from "./request.ts";
import { success } from "./responses.ts";

/** `hooks/create`: `callbackURL` required; `meetingID`, `eventID`, `getRaw` optional. Idempotent per callbackURL. */
export async function createHook(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const callbackURL = get(req.params, "callbackURL")?.trim() ?? "";
  if (callbackURL === "") {
    throw new BbbError("missingParamCallbackURL", "You must specify a callbackURL in the parameters.");
  }
  if (!httpUrlOrNull(callbackURL)) {
    throw new BbbError("createHookError", "The callbackURL must be an http(s) URL.");
  }
  const getRaw = get(req.params, "getRaw")?.toLowerCase() === "true";
  if (getRaw && (await listTenants(ctx.kv)).length > 0) {
    throw new BbbError(
      "createHookError",
      "Raw events (getRaw=true) cannot be told apart by tenant, so they are not available while tenants exist.",
    );
  }
  const { hook, existed } = await addHook(ctx.kv, {
    callbackURL,
    meetingID: get(req.params, "meetingID") || null,
    eventID: get(req.params, "eventID") || null,
    getRaw,
  });
  if (!existed) {
    const servers = (await listServers(ctx.kv)).filter((s) => s.online);
    await mapLimit(servers, 20, (s) => registerHook(ctx, s, hook));
  }
  return success({
    hookID: hook.hookID,
    permanentHook: "false",
    rawData: String(hook.getRaw),
    ...(existed
      ? { messageKey: "duplicateWarning", message: "There is already a hook for this callback URL." }
      : {}),
  });
}

/** `hooks/list`: the hooks created through bbblb (with `meetingID`: the global ones and that meeting's). */
export async function listHooksCall(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const meetingID = get(req.params, "meetingID");
  const hooks = (await listHooks(ctx.kv)).map((e) => e.value)
    .filter((h) => !meetingID || h.meetingID === null || h.meetingID === meetingID);
  return success({
    hooks: {
      hook: hooks.map((h) => ({
        hookID: h.hookID,
        callbackURL: { "#cdata": h.callbackURL },
        ...(h.meetingID ? { meetingID: { "#cdata": h.meetingID } } : {}),
        ...(h.eventID ? { eventID: h.eventID } : {}),
        permanentHook: "false",
        rawData: String(h.getRaw),
      })),
    },
  });
}

/** `hooks/destroy`: removes the hook from bbblb and from every server it was registered on. */
export async function destroyHook(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const hookID = get(req.params, "hookID")?.trim() ?? "";
  if (hookID === "") throw new BbbError("missingParamHookID", "You must specify a hookID in the parameters.");
  const hook = await removeHook(ctx.kv, hookID);
  if (!hook) throw new BbbError("destroyMissingHook", "The hook informed was not found.");
  const servers = new Map((await listServers(ctx.kv)).map((s) => [String(s.id), s]));
  await mapLimit(Object.entries(hook.registrations), 20, async ([serverId, remoteId]) => {
    const server = servers.get(serverId);
    if (server) await unregisterHook(ctx, server, remoteId);
  });
  return success({ removed: "true" });
}
