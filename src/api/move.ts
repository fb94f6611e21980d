/**
 * `move` (the seed's custom call): move a running meeting to another server, chosen by the admin (`serverID`)
 * or like a create would choose, excluding the current server.
 *
 * @module
 */
import { BbbError, meetingNotFound } from "../bbb/errors.ts";
import { get } from "../bbb/query.ts";
import { moveMeeting } from "../cluster/move.ts";
import { countMeetingsOn, getServerWithHealth } from "../store/servers.ts";
import type { ApiContext } from "./context.ts";
import { meetingIdOf, runningMeeting } from "./meetings.ts";
import type { ApiRequest } from "./request.ts";
import { xml } from "./responses.ts";

/**
 * Move the meeting: create it on the target with its stored create parameters and the passwords BBB answered
 * at the first create; only then end it on the old server. If the target fails, the next eligible server is
 * tried (without `serverID`); if none works, nothing was ended. Success: the target's create answer.
 *
 * @throws {BbbError} `missingParamMeetingID`, `notFound` (meeting or server), `validationError` (serverID),
 *   `sameServer`, `serverNotEligible`, `serverUnavailable`
 */
export async function move(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const meetingID = meetingIdOf(req.params);
  const rawServer = get(req.params, "serverID");
  let serverId: number | undefined;
  if (rawServer !== undefined && rawServer !== "") {
    if (!/^\d{1,9}$/.test(rawServer)) {
      throw new BbbError(
        "validationError",
        `Parameter serverID must be a server id (a non-negative integer).`,
      );
    }
    serverId = Number(rawServer);
  }
  const entry = await runningMeeting(ctx, req.tenant, meetingID);
  if (!entry) throw meetingNotFound();
  if (serverId !== undefined) {
    const target = await getServerWithHealth(ctx.kv, serverId);
    if (!target) throw new BbbError("notFound", `There is no server with serverID ${serverId}.`);
    if (serverId === entry.value.serverId) {
      throw new BbbError("sameServer", `The meeting already runs on server ${serverId}.`);
    }
    const { state, maxMeetings } = target.server;
    if (state !== "enabled" || !target.health.online || target.health.excluded) {
      const why = state !== "enabled" ? `it is ${state}` : "it is offline";
      throw new BbbError("serverNotEligible", `Server ${serverId} cannot take meetings: ${why}.`);
    }
    if (maxMeetings != null && (await countMeetingsOn(ctx.kv, serverId, maxMeetings)) >= maxMeetings) {
      throw new BbbError(
        "serverNotEligible",
        `Server ${serverId} cannot take meetings: it has reached its cap of ${maxMeetings}.`,
      );
    }
  }
  const moved = await moveMeeting(ctx, entry, { serverId, endOld: true, reason: "move" });
  req.server = moved.entry.value.serverId;
  return xml(moved.text);
}
