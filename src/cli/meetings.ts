/**
 * Admin subcommands for meetings: `panic` (move every meeting off a server) and `list-meetings`.
 *
 * @module
 */
import { BbbError } from "../bbb/errors.ts";
import type { ClusterContext } from "../cluster/context.ts";
import { moveMeeting } from "../cluster/move.ts";
import { mapLimit } from "../cluster/map_limit.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import { DEFAULT_TENANT_NAME } from "../store/tenants.ts";
import {
  getMeeting,
  listAllLive,
  listAllMeetings,
  type MeetingRecord,
  meetingRef,
  meetingsOnServer,
} from "../store/meetings.ts";
import { getServer, setServerState } from "../store/servers.ts";
import { CliError } from "./errors.ts";
import { serverId } from "./servers.ts";

/** How many meetings `panic` moves at the same time. */
const PANIC_CONCURRENCY = 4;

/**
 * `panic ID`: set the server to `panic` (no new meetings; only `enable` lifts it), then move every running
 * meeting off it, several at a time, printing one line per meeting and a summary. Running it again finishes
 * what is left.
 *
 * @param print writes one line of output
 * @throws {CliError} for an unknown server, and (after the summary) when any meeting could not be moved
 */
export async function panicCommand(ctx: ClusterContext, rawId: string, print: (line: string) => void) {
  const id = serverId(rawId);
  if (!(await getServer(ctx.kv, id))) throw new CliError(`there is no server ${id}`);
  await setServerState(ctx.kv, id, "panic");
  const names = await meetingsOnServer(ctx.kv, id);
  const results = await mapLimit(names, PANIC_CONCURRENCY, async ([tenant, meetingID]) => {
    const label = tenant === "" ? meetingID : `${meetingID} (tenant ${tenant})`;
    const entry = await getMeeting(ctx.kv, tenant, meetingID);
    if (entry.value?.status !== "running" || entry.value.serverId !== id) {
      print(`skipped ${label}: no longer running on server ${id}`);
      return true;
    }
    try {
      const moved = await moveMeeting(ctx, entry as Deno.KvEntry<MeetingRecord>, {
        endOld: true,
        reason: "panic",
      });
      print(
        `moved ${label} to server ${moved.entry.value.serverId}${
          moved.recovered
            ? " (adopted: name, metadata, duration and maxUsers recovered from the server; record, welcome, " +
              "lock settings and other create parameters were not known)"
            : ""
        }`,
      );
      return true;
    } catch (e) {
      print(`could not move ${label}: ${e instanceof BbbError ? e.message : String(e)}`);
      return false;
    }
  });
  const failed = results.filter((ok) => !ok).length;
  print(`server ${id} is in panic; moved ${results.length - failed} of ${results.length} meeting(s)`);
  if (failed > 0) {
    throw new CliError(`${failed} meeting(s) could not be moved; run \`bbblb panic ${id}\` again to retry`);
  }
}

/** One row of `list-meetings --json`. */
export interface MeetingRow {
  /** The tenant (`default` for the default tenant's meetings). */
  tenant: string;
  /** The tenant's own meetingID. */
  meetingID: string;
  serverId: number;
  /** Declared load. */
  load: number;
  /** Participants at the last poll. */
  participants: number;
  /** Seconds since this instance was created (or moved). */
  ageSeconds: number;
}

/** `list-meetings [--server ID] [--json]`. */
export async function listMeetingsCommand(
  kv: Deno.Kv,
  options: { server?: string; json: boolean },
): Promise<string> {
  const only = options.server === undefined ? undefined : serverId(options.server);
  const [meetings, lives] = await Promise.all([listAllMeetings(kv), listAllLive(kv)]);
  const now = Date.now();
  const rows: MeetingRow[] = meetings
    .map((e) => e.value)
    .filter((m) => m.status === "running" && (only === undefined || m.serverId === only))
    .map((m) => {
      const live = lives.get(meetingRef(m.tenant, m.meetingID))?.value;
      return {
        tenant: m.tenant === DEFAULT_TENANT ? DEFAULT_TENANT_NAME : m.tenant,
        meetingID: m.meetingID,
        serverId: m.serverId,
        load: m.loadMilli / 1000,
        participants: live?.historyId === m.historyId ? live.participants : 0,
        ageSeconds: Math.max(0, Math.round((now - m.claimedAt) / 1000)),
      };
    });
  if (options.json) return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return "no running meetings";
  const table = [
    ["TENANT", "MEETING ID", "SERVER", "LOAD", "PARTICIPANTS", "AGE"],
    ...rows.map((r) => [
      r.tenant,
      r.meetingID,
      String(r.serverId),
      String(r.load),
      String(r.participants),
      `${r.ageSeconds}s`,
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
