/**
 * bbblb's recordings upload endpoint for BBB servers (central custody only):
 *
 * - `POST /bbblb/v1/recordings`: a tar (optionally gzip) of `<format>/<recordID>/…` as under
 *   `/var/bigbluebutton/published`, authorised by a JWT the server signs with its own secret (see
 *   `recordings/upload.ts`). 202 once the archive is safely on disk (it is imported in the background), 401 for
 *   a bad or expired token, 411 without a Content-Length, 413 over `--max-recording-upload`, 400 for an archive
 *   bbblb cannot read, 507 when the disk is full. Exempt from `--max-body` and `--request-timeout`; the body streams to disk.
 * - `GET /bbblb/v1/recordings/uploads/<id>`: what became of an upload (`received`, `importing`, `imported`,
 *   `failed`, and per format its state and error), for the server that sent it; the post_publish script removes
 *   its copy only once this says `imported`.
 *
 * Answers are JSON; errors are `{ "error": "<sentence>" }`.
 *
 * @module
 */
import type { Context } from "hono";
import { getUpload, type UploadRecord } from "../store/recordings.ts";
import { authenticateUpload, UploadError } from "../recordings/upload.ts";
import type { ApiContext } from "./context.ts";

/** The path uploads are posted to. */
export const UPLOAD_PATH = "/bbblb/v1/recordings";

function jsonAnswer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json;charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

function refused(e: UploadError): Response {
  return jsonAnswer(e.status, { error: e.message }, e.status === 401 ? { "www-authenticate": "Bearer" } : {});
}

/** An upload as its status endpoint shows it. */
function view(u: UploadRecord): unknown {
  return {
    id: u.id,
    state: u.state,
    status: `${UPLOAD_PATH}/uploads/${u.id}`,
    items: u.items.map((i) => ({
      format: i.format,
      recordID: i.recordID,
      bytes: i.bytes,
      state: i.state,
      error: i.error,
    })),
  };
}

/** Who signed the request, or the refusal. */
async function uploader(ctx: ApiContext, c: Context): Promise<{ serverId: number } | Response> {
  const custody = ctx.recordings!.custody;
  try {
    return await authenticateUpload(ctx.kv, c.req.header("authorization"), {
      audience: ctx.publicUrl,
      graceMs: custody.uploadGraceMs,
    });
  } catch (e) {
    if (e instanceof UploadError) {
      ctx.log.warn("recording upload refused", { status: e.status, reason: e.message });
      await c.req.raw.body?.cancel().catch(() => {});
      return refused(e);
    }
    throw e;
  }
}

/** `POST /bbblb/v1/recordings`. */
export async function uploadRecording(ctx: ApiContext, c: Context): Promise<Response> {
  const who = await uploader(ctx, c);
  if (who instanceof Response) return who;
  const length = c.req.header("content-length");
  try {
    const upload = await ctx.recordings!.custody.receive(
      c.req.raw.body,
      length === undefined || !/^\d+$/.test(length) ? null : Number(length),
      who.serverId,
    );
    return jsonAnswer(202, view(upload), { location: `${UPLOAD_PATH}/uploads/${upload.id}` });
  } catch (e) {
    if (e instanceof UploadError) {
      ctx.log.warn("recording upload refused", { server: who.serverId, status: e.status, reason: e.message });
      return refused(e);
    }
    throw e;
  }
}

/** `GET /bbblb/v1/recordings/uploads/<id>`: only the server that sent the upload sees it. */
export async function uploadStatus(ctx: ApiContext, c: Context): Promise<Response> {
  const who = await uploader(ctx, c);
  if (who instanceof Response) return who;
  const id = c.req.param("id") ?? "";
  const upload = /^[0-9a-f]{12,40}$/.test(id) ? await getUpload(ctx.kv, id) : null;
  if (!upload || upload.serverId !== who.serverId) return jsonAnswer(404, { error: "no such upload" });
  return jsonAnswer(200, view(upload));
}
