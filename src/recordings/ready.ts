/**
 * The recording-ready callback (`meta_bbb-recording-ready-url`, also the `bn-` and `canvas-` spellings): a POST
 * of form field `signed_parameters`, a JWT (HS256) of `{meeting_id, record_id}` signed with the secret the
 * front-end knows (BBB's `post_publish_recording_ready_callback.rb`; Scalelite's `RecordingReadyNotifierService`).
 *
 * In central custody bbblb sends it itself, once per recording, after the first of its formats is imported, to
 * the URL the front-end gave at create (kept with the meeting's create parameters). The BBB server's own
 * callback, which its post_publish script sends once per format, is dropped by the relay.
 *
 * @module
 */
import { SignJWT } from "jose";
import { get } from "../bbb/query.ts";
import { httpUrlOrNull } from "../cluster/links.ts";
import type { Logger } from "../log.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import { loadCreateParams } from "../store/meetings.ts";
import { type RecordingRecord, updateRecording } from "../store/recordings.ts";
import { getTenant } from "../store/tenants.ts";

/**
 * POST a recording-ready callback: `signed_parameters` = JWT HS256 of `{meeting_id, record_id}` with `secret`.
 *
 * @returns the front-end's HTTP status
 * @throws when the front-end cannot be reached within `timeoutMs`
 */
export async function postRecordingReady(
  fetcher: typeof fetch,
  target: string,
  payload: { meetingID: string; recordID: unknown },
  secret: string,
  timeoutMs: number,
): Promise<number> {
  const token = await new SignJWT({ meeting_id: payload.meetingID, record_id: payload.recordID })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(secret));
  const res = await fetcher(target, {
    method: "POST",
    body: new URLSearchParams({ signed_parameters: token }),
    signal: AbortSignal.timeout(timeoutMs),
    redirect: "manual",
  });
  await res.body?.cancel();
  return res.status;
}

/** The create parameters that carry a recording-ready URL, in the order BBB's script looks them up. */
const READY_PARAMS = [
  "meta_bbb-recording-ready-url",
  "meta_bn-recording-ready-url",
  "meta_canvas-recording-ready-url",
];

/** What {@linkcode notifyRecordingReady} needs. */
export interface ReadyContext {
  kv: Deno.Kv;
  /** The default tenant's API secrets; the first signs its callbacks. */
  secrets: () => readonly string[];
  fetch: typeof fetch;
  /** Timeout of the call, ms. */
  timeoutMs: number;
  log: Logger;
}

/**
 * Send the recording-ready callback of a recording just imported, if its meeting asked for one and it was not
 * sent yet. It is marked sent in the store first (one atomic change), so several formats imported at once, or
 * several instances, send it exactly once; a front-end that cannot be reached is logged, not retried (as BBB).
 */
export async function notifyRecordingReady(ctx: ReadyContext, record: RecordingRecord): Promise<void> {
  if (record.readyNotified || record.historyId === null) return;
  const params = await loadCreateParams(ctx.kv, record.historyId);
  if (!params) return;
  const lower = new Map(params.map(([n, v]) => [n.toLowerCase(), v]));
  const target = READY_PARAMS.map((n) => httpUrlOrNull(lower.get(n) ?? get(params, n))).find((u) => u) ??
    null;
  if (!target) return;
  let claimed = false;
  await updateRecording(ctx.kv, record.recordID, (current) => {
    claimed = current !== null && !current.readyNotified;
    return claimed ? { ...current!, readyNotified: true } : null;
  });
  if (!claimed) return;
  const secret = record.tenant === DEFAULT_TENANT
    ? ctx.secrets()[0]
    : (await getTenant(ctx.kv, record.tenant))?.secrets[0];
  if (!secret) {
    ctx.log.warn("recording-ready callback not sent: the tenant is gone", { recordID: record.recordID });
    return;
  }
  try {
    const status = await postRecordingReady(
      ctx.fetch,
      target,
      { meetingID: record.meetingID, recordID: record.recordID },
      secret,
      ctx.timeoutMs,
    );
    ctx.log.info("recording-ready callback sent", {
      meetingID: record.meetingID,
      recordID: record.recordID,
      status,
    });
  } catch (e) {
    ctx.log.warn("recording-ready callback failed", {
      meetingID: record.meetingID,
      recordID: record.recordID,
      error: String((e as Error)?.message ?? e),
    });
  }
}
