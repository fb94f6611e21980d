/**
 * `getMeetings`: every server asked in parallel, their `<meeting>` elements merged into one answer, within the
 * fan-out timeout.
 *
 * @module
 */
import { BackendError } from "../bbb/client.ts";
import { meetingNodes, type OrderedNode, renderMeetings } from "../bbb/xml.ts";
import { listServers } from "../store/servers.ts";
import { callServer, fanoutTimeoutOf, serverUnavailable } from "../cluster/context.ts";
import { fanOut } from "../cluster/fan_out.ts";
import type { ApiContext } from "./context.ts";
import { xml } from "./responses.ts";
import { ownNodes } from "./tenants.ts";

/** Servers asked at the same time. */
const FAN_OUT = 100;

/**
 * Ask every server not known to be offline (disabled ones too: their meetings still run), all within the fan-out
 * timeout (`--fanout-timeout`). A server that has not answered by then is listed as its last meeting list had it
 * (the last poll round's or getMeetings' answer of this process; see `fan_out.ts`), or left out when there is none;
 * its call goes on in the background within the backend timeout, so a failure still counts against its health.
 * A failing server leaves its meetings out; only when no server asked has a part is the answer
 * `serverUnavailable`. Nothing found: SUCCESS with `noMeetings` and an empty `<meetings/>`, as BBB. A tenant gets
 * only its own meetings (see `ownNodes`), still with their scoped IDs (the app unscopes the answer).
 *
 * @param tenant the caller's tenant
 */
export async function getMeetings(ctx: ApiContext, tenant: string): Promise<Response> {
  const names = (await ctx.tenants.snapshot()).names;
  const servers = await listServers(ctx.kv);
  const asked = servers.filter((s) => s.online);
  ctx.meetingLists?.keepOnly(new Set(servers.map((s) => s.id)));
  if (servers.length > 0 && asked.length === 0) {
    throw serverUnavailable("No BBB server can be reached right now.");
  }
  const results = await fanOut(
    asked,
    { limit: FAN_OUT, timeoutMs: fanoutTimeoutOf(ctx) },
    (s) => callServer(ctx, s, "getMeetings", ""),
  );
  const nodes: OrderedNode[] = [];
  let answered = 0;
  results.forEach((r, i) => {
    const server = asked[i].id;
    let text: string;
    if (r.status === "late") {
      const last = ctx.meetingLists?.get(server);
      ctx.log.warn("getMeetings: server late, listed as before", {
        server,
        listedAgoMs: last ? Date.now() - last.at : undefined,
      });
      if (!last) return;
      text = last.text;
    } else if (r.status === "rejected") {
      if (!(r.reason instanceof BackendError)) throw r.reason;
      return;
    } else if (r.value.response.returncode !== "SUCCESS") {
      ctx.log.warn("getMeetings refused by server", { server, messageKey: r.value.response.messageKey });
      return;
    } else {
      text = r.value.text;
      ctx.meetingLists?.remember(server, text);
    }
    answered++;
    nodes.push(...ownNodes(meetingNodes(text), tenant, names));
  });
  if (asked.length > 0 && answered === 0) throw serverUnavailable("No BBB server answered getMeetings.");
  if (nodes.length === 0) {
    return xml(
      "<response><returncode>SUCCESS</returncode><meetings/><messageKey>noMeetings</messageKey>" +
        "<message>no meetings were found on this server</message></response>",
    );
  }
  return xml(renderMeetings(nodes));
}
