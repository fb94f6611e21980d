/**
 * Probes: ask one server whether it runs one meeting (`getMeetingInfo` with a short timeout). The lifecycle asks
 * before failing a meeting over or settling a claim, and a move asks before it ends the old copy. Concurrent
 * probes of one meeting on one server share one call.
 *
 * @module
 */
import { BackendError } from "../bbb/client.ts";
import { encodeQuery } from "../bbb/query.ts";
import type { BbbResponse } from "../bbb/xml.ts";
import type { CreateDetails } from "../store/meetings.ts";
import { markAnswered, type ServerRecord } from "../store/servers.ts";
import { callServer, type ClusterContext } from "./context.ts";
import { createDetails } from "./create.ts";

/** Timeout of a probe (getMeetingInfo of one meeting on its server), in ms. */
export const PROBE_TIMEOUT_MS = 2000;

/** What a probe of one meeting on one server found. */
export type ProbeResult =
  | { state: "running"; details: CreateDetails; info: BbbResponse }
  | { state: "absent" }
  | { state: "failed"; error: string };

const probesInFlight = new Map<string, Promise<ProbeResult>>();

/**
 * Ask a server whether it runs a meeting: `getMeetingInfo` with the probe timeout. A valid BBB answer either way
 * ends the server's failure streak; a failure counts like any failed call. Concurrent probes of one meeting on
 * one server share one call.
 *
 * @param backendID the meetingID as the server knows it (scoped for a tenant)
 */
export function probeMeeting(
  ctx: ClusterContext,
  server: ServerRecord,
  backendID: string,
): Promise<ProbeResult> {
  const key = `${server.id}\u0000${backendID}`;
  let probe = probesInFlight.get(key);
  if (!probe) {
    probe = doProbe(ctx, server, backendID).finally(() => probesInFlight.delete(key));
    probesInFlight.set(key, probe);
  }
  return probe;
}

async function doProbe(ctx: ClusterContext, server: ServerRecord, backendID: string): Promise<ProbeResult> {
  let response: BbbResponse;
  try {
    response = (await callServer(ctx, server, "getMeetingInfo", encodeQuery([["meetingID", backendID]]), {
      timeoutMs: Math.min(PROBE_TIMEOUT_MS, ctx.backendTimeoutMs),
    })).response;
  } catch (e) {
    if (e instanceof BackendError) return { state: "failed", error: e.message };
    throw e;
  }
  if (response.returncode === "SUCCESS" && response.meetingID === backendID) {
    await markAnswered(ctx.kv, server.id);
    return { state: "running", details: createDetails(response), info: response };
  }
  if (response.messageKey === "notFound" || response.messageKey === "invalidMeetingIdentifier") {
    await markAnswered(ctx.kv, server.id);
    return { state: "absent" };
  }
  return { state: "failed", error: `getMeetingInfo answered ${response.messageKey ?? "FAILED"}` };
}
