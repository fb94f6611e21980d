/**
 * `getMeetings`: every server asked in parallel, their `<meeting>` elements merged into one answer.
 *
 * @module
 */
import { BackendError } from "../bbb/client.ts";
import { meetingNodes, renderMeetings } from "../bbb/xml.ts";
import { listServers } from "../store/servers.ts";
import { callServer, serverUnavailable } from "../cluster/context.ts";
import type { ApiContext } from "./context.ts";
import { xml } from "./responses.ts";
import { ownNodes } from "./tenants.ts";

/**
 * Ask every server not known to be offline (disabled ones too: their meetings still run), each within the
 * backend timeout. A failing server leaves its meetings out; only when every server asked fails is the answer
 * `serverUnavailable`. Nothing found: SUCCESS with `noMeetings` and an empty `<meetings/>`, as BBB. A tenant gets
 * only its own meetings (see `ownNodes`), still with their scoped IDs (the app unscopes the answer).
 *
 * @param tenant the caller's tenant
 */
export async function getMeetings(ctx: ApiContext, tenant: string): Promise<Response> {
  const names = (await ctx.tenants.snapshot()).names;
  const nodes = (await askEveryServer(ctx, "getMeetings")).flatMap((text) =>
    ownNodes(meetingNodes(text), tenant, names)
  );
  if (nodes.length === 0) {
    return xml(
      "<response><returncode>SUCCESS</returncode><meetings/><messageKey>noMeetings</messageKey>" +
        "<message>no meetings were found on this server</message></response>",
    );
  }
  return xml(renderMeetings(nodes));
}

/**
 * Call a listing call without parameters (`getMeetings`, `getSessions`) on every server not known to be offline
 * (disabled ones too: their meetings still run), in parallel, each within the backend timeout.
 *
 * @returns the SUCCESS answers' texts; a failing or refusing server is left out (and logged)
 * @throws {BbbError} `serverUnavailable` when servers exist and none is online, or every server asked failed
 */
export async function askEveryServer(ctx: ApiContext, call: string): Promise<string[]> {
  const servers = await listServers(ctx.kv);
  const asked = servers.filter((s) => s.online);
  if (servers.length > 0 && asked.length === 0) {
    throw serverUnavailable("No BBB server can be reached right now.");
  }
  const results = await Promise.allSettled(asked.map((s) => callServer(ctx, s, call, "")));
  const texts: string[] = [];
  results.forEach((r, i) => {
    if (r.status === "rejected") {
      if (!(r.reason instanceof BackendError)) throw r.reason;
      return;
    }
    if (r.value.response.returncode !== "SUCCESS") {
      ctx.log.warn(`${call} refused by server`, {
        server: asked[i].id,
        messageKey: r.value.response.messageKey,
      });
      return;
    }
    texts.push(r.value.text);
  });
  if (asked.length > 0 && texts.length === 0) throw serverUnavailable(`No BBB server answered ${call}.`);
  return texts;
}
