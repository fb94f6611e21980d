/**
 * `getSessions` (checksummed, no parameters): BBB lists one `<session>` per joined user with the meeting's
 * *internal* ID, the meeting's name and the user's name. bbblb asks every server (as `getMeetings`) and keeps
 * only the sessions of the caller's own meetings, found by mapping each session's internal meetingID back to
 * the meetings bbblb placed or adopted for that tenant — so a tenant never sees another tenant's user names.
 * Sessions of meetings bbblb does not know as the caller's (another tenant's, breakout rooms, meetings not yet
 * adopted) are left out.
 *
 * @module
 */
import { childText, listNodes, renderList } from "../bbb/xml.ts";
import { listTenantMeetings } from "../store/meetings.ts";
import type { ApiContext } from "./context.ts";
import { askEveryServer } from "./get_meetings.ts";
import { xml } from "./responses.ts";

/**
 * Answer `getSessions` for `tenant`: the `<session>` elements of its meetings from every server answering, as BBB
 * sent them; none: SUCCESS with an empty `<sessions/>` and `noSessions`, as BBB.
 *
 * @throws {BbbError} `serverUnavailable` when no server answers
 */
export async function getSessions(ctx: ApiContext, tenant: string): Promise<Response> {
  const [texts, meetings] = await Promise.all([
    askEveryServer(ctx, "getSessions"),
    listTenantMeetings(ctx.kv, tenant),
  ]);
  const own = new Set(meetings.map((m) => m.internalMeetingID).filter((id) => id !== null));
  const nodes = texts.flatMap((text) => listNodes(text, "sessions", "session")).filter((n) => {
    const id = childText(n, "internalMeetingID") ?? childText(n, "meetingID");
    return id !== undefined && own.has(id.trim());
  });
  if (nodes.length === 0) {
    return xml(
      "<response><returncode>SUCCESS</returncode><sessions/><messageKey>noSessions</messageKey>" +
        "<message>no sessions were found on this server</message></response>",
    );
  }
  return xml(renderList("sessions", nodes));
}
