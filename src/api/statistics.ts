/**
 * `getStatistics` (the seed's custom call): every server with its running meetings and their live counts, from
 * what the poller stored — no fan-out on the request path, so a slow server cannot fail it.
 *
 * @module
 */
import { listAllLive, listAllMeetings, meetingRef } from "../store/meetings.ts";
import { listServers } from "../store/servers.ts";
import type { ApiContext } from "./context.ts";
import { success } from "./responses.ts";

/**
 * SUCCESS with `<servers>`, one `<server>` per server (all states) with `<serverID>` and `<meetings>`, each
 * `<meeting>` with exactly `meetingID`, `participantCount`, `listenerCount`, `voiceParticipantCount`,
 * `videoCount` (the XML of the seed's README). A tenant sees only its own meetings.
 *
 * @param tenant the caller's tenant
 */
export async function getStatistics(ctx: ApiContext, tenant: string): Promise<Response> {
  const [servers, meetings, lives] = await Promise.all([
    listServers(ctx.kv),
    listAllMeetings(ctx.kv),
    listAllLive(ctx.kv),
  ]);
  const byServer = Map.groupBy(
    meetings.filter((m) => m.value.status === "running" && m.value.tenant === tenant),
    (m) => m.value.serverId,
  );
  return success({
    servers: {
      server: servers.map((s) => ({
        serverID: String(s.id),
        meetings: {
          meeting: (byServer.get(s.id) ?? []).map(({ value: m }) => {
            const live = lives.get(meetingRef(m.tenant, m.meetingID))?.value;
            const counted = live?.historyId === m.historyId ? live : undefined;
            return {
              meetingID: m.meetingID,
              participantCount: String(counted?.participants ?? 0),
              listenerCount: String(counted?.listeners ?? 0),
              voiceParticipantCount: String(counted?.voiceParticipants ?? 0),
              videoCount: String(counted?.videos ?? 0),
            };
          }),
        },
      })),
    },
  });
}
