/**
 * `getMeetings`: every server asked in parallel, their `<meeting>` elements merged into one answer, within the
 * fan-out timeout.
 *
 * @module
 */
import { BackendError } from "../bbb/client.ts";
import { meetingNodes, renderMeetings } from "../bbb/xml.ts";
import { listServers } from "../store/servers.ts";
import { callServer, fanoutTimeoutOf, serverUnavailable } from "../cluster/context.ts";
import { fanOut, type MeetingLists } from "../cluster/fan_out.ts";
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
  const nodes = (await askEveryServer(ctx, "getMeetings", ctx.meetingLists)).flatMap((text) =>
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
 * (disabled ones too: their meetings still run), in parallel, all within the fan-out timeout.
 *
 * @param lastLists each server's last answer to this call, which stands in for a server that has not answered in
 *   time (and is updated with every answer); without it, a late server is left out
 * @returns the SUCCESS answers' texts; a failing or refusing server is left out (and logged)
 * @throws {BbbError} `serverUnavailable` when servers exist and none is online, or no server asked has a part
 */
export async function askEveryServer(
  ctx: ApiContext,
  call: string,
  lastLists?: MeetingLists,
): Promise<string[]> {
  const servers = await listServers(ctx.kv);
  const asked = servers.filter((s) => s.online);
  lastLists?.keepOnly(new Set(servers.map((s) => s.id)));
  if (servers.length > 0 && asked.length === 0) {
    throw serverUnavailable("No BBB server can be reached right now.");
  }
  const results = await fanOut(
    asked,
    { limit: FAN_OUT, timeoutMs: fanoutTimeoutOf(ctx) },
    (s) => callServer(ctx, s, call, ""),
  );
  const texts: string[] = [];
  results.forEach((r, i) => {
    const server = asked[i].id;
    if (r.status === "late") {
      const last = lastLists?.get(server);
      ctx.log.warn(`${call}: server late, ${last ? "listed as before" : "left out"}`, {
        server,
        listedAgoMs: last ? Date.now() - last.at : undefined,
      });
      if (last) texts.push(last.text);
      return;
    }
    if (r.status === "rejected") {
      if (!(r.reason instanceof BackendError)) throw r.reason;
      return;
    }
    if (r.value.response.returncode !== "SUCCESS") {
      ctx.log.warn(`${call} refused by server`, { server, messageKey: r.value.response.messageKey });
      return;
    }
    lastLists?.remember(server, r.value.text);
    texts.push(r.value.text);
  });
  if (asked.length > 0 && texts.length === 0) throw serverUnavailable(`No BBB server answered ${call}.`);
  return texts;
}
