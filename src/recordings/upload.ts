/**
 * The upload endpoint's logic (`POST {BBBLB_URL}/bbblb/v1/recordings`), apart from HTTP: who is uploading, and
 * getting the archive safely onto disk.
 *
 * **Authentication.** `Authorization: Bearer <JWT>`, HS256, signed with the uploading BBB server's own API
 * secret (no new credential): `iss` is the host (and port, when not the default) of the server's URL as
 * registered in bbblb, `aud` is `BBBLB_URL`, `exp` at most 10 minutes ahead; 60 s of clock leeway. A server
 * removed less than `--recordings-upload-grace-days` ago is still accepted, since a recording can take hours to
 * process after its meeting.
 *
 * **Receiving.** The body (a tar of `<format>/<recordID>/…`, optionally gzip) is extracted while it arrives into
 * a staging folder inside the recordings directory, each file synced to disk, and counted against
 * `--max-recording-upload`; only then is the upload recorded (and answered 202). A cut upload, a full disk or an
 * unreadable archive leaves nothing behind. The body must come with a Content-Length: Deno's HTTP server (2.9)
 * decodes a chunked body at a cost per chunk that grows with what came before (measured: 64 MiB in Ruby's 16 KiB
 * chunks took 18 s and 80 MiB, 256 MiB took 229 s and 224 MiB, against 0.3 s and a flat ~85 MiB with a length),
 * so a chunked upload is refused with 411 before anything is written.
 *
 * @module
 */
import { decodeJwt, jwtVerify } from "jose";
import { join } from "node:path";
import { listRemovedServers, listServers } from "../store/servers.ts";
import { saveUpload, type UploadRecord } from "../store/recordings.ts";
import { ArchiveError, extractArchive } from "./archive.ts";
import { makeDir, newFolderId, removeTree, stagingRoot } from "./layout.ts";

/** An upload bbblb refuses, with the HTTP status to answer and a sentence saying why. */
export class UploadError extends Error {
  /** 400 unreadable archive, 401 bad token, 411 no Content-Length, 413 too large, 507 disk full. */
  readonly status: 400 | 401 | 411 | 413 | 507;

  constructor(status: 400 | 401 | 411 | 413 | 507, message: string) {
    super(message);
    this.name = "UploadError";
    this.status = status;
  }
}

/** How far ahead an upload token may expire, in seconds. */
export const MAX_TOKEN_LIFETIME_S = 600;
/** Clock leeway for `exp` (and `nbf`, `iat`), in seconds. */
export const TOKEN_LEEWAY_S = 60;

/** Options of {@linkcode authenticateUpload}. */
export interface AuthOptions {
  /** The token's required `aud`: `BBBLB_URL`. */
  audience: string;
  /** How long after its removal a server may still upload, in ms. */
  graceMs: number;
  /** @default Date.now() */
  now?: number;
}

/** The host (and port, unless it is the scheme's default) of a server's URL, lower-cased: its `iss`. */
export function issuerOf(apiUrl: string): string {
  return new URL(apiUrl).host.toLowerCase();
}

/**
 * Which server signed an upload.
 *
 * @param authorization the `Authorization` header
 * @returns the id of the server (registered, or removed within the grace period)
 * @throws {UploadError} 401 for a missing, malformed, unknown, badly signed, expired or too long-lived token
 */
export async function authenticateUpload(
  kv: Deno.Kv,
  authorization: string | null | undefined,
  opts: AuthOptions,
): Promise<{ serverId: number }> {
  const now = opts.now ?? Date.now();
  const token = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? "")?.[1];
  if (!token) {
    throw new UploadError(401, "an upload needs Authorization: Bearer <JWT signed with the server's secret>");
  }
  let iss: string;
  try {
    const claims = decodeJwt(token);
    if (typeof claims.iss !== "string" || claims.iss === "") throw new Error();
    iss = claims.iss.toLowerCase();
  } catch {
    throw new UploadError(401, "the upload token is not a JWT with an iss claim");
  }
  const current = (await listServers(kv)).map((s) => ({ id: s.id, apiUrl: s.apiUrl, secret: s.secret }));
  const removed = await listRemovedServers(kv, now - opts.graceMs);
  const candidates = [...current, ...removed].filter((s) => {
    try {
      return issuerOf(s.apiUrl) === iss;
    } catch {
      return false;
    }
  });
  for (const s of candidates) {
    try {
      const { payload } = await jwtVerify(token, new TextEncoder().encode(s.secret), {
        algorithms: ["HS256"],
        issuer: iss,
        audience: opts.audience,
        clockTolerance: TOKEN_LEEWAY_S,
        requiredClaims: ["exp"],
        currentDate: new Date(now),
      });
      if (payload.exp! > now / 1000 + MAX_TOKEN_LIFETIME_S + TOKEN_LEEWAY_S) {
        throw new UploadError(
          401,
          `the upload token expires more than ${MAX_TOKEN_LIFETIME_S / 60} minutes ahead`,
        );
      }
      return { serverId: s.id };
    } catch (e) {
      if (e instanceof UploadError) throw e;
      // another server with this host (one removed and one added again) may have signed it
    }
  }
  throw new UploadError(
    401,
    candidates.length === 0
      ? "the upload token's iss is not the host of a registered BBB server"
      : "the upload token does not verify (wrong secret or audience, or expired)",
  );
}

/** Options of {@linkcode receiveUpload}. */
export interface ReceiveOptions {
  kv: Deno.Kv;
  /** The recordings directory. */
  dir: string;
  /** `--max-recording-upload`, bytes. */
  maxBytes: number;
  /** The server that signed it. */
  serverId: number;
  /** @default Date.now() */
  now?: number;
}

/** A stream that errors once more than `max` bytes passed through it. */
function limited(
  body: ReadableStream<Uint8Array>,
  max: number,
  over: () => void,
): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.length;
        if (seen > max) {
          over();
          controller.error(new ArchiveError("tooLarge", `the upload is larger than ${max} bytes`));
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * Extract an uploaded archive into a staging folder and record the upload as `received` (to be imported).
 *
 * @throws {UploadError} 411 without a Content-Length, 413 over the limit, 400 for an archive bbblb cannot read or
 *   that holds unsafe entries (links, devices, `..`, absolute paths), 507 when the disk is full; nothing is left
 *   behind
 */
export async function receiveUpload(
  body: ReadableStream<Uint8Array> | null,
  contentLength: number | null,
  opts: ReceiveOptions,
): Promise<UploadRecord> {
  if (contentLength !== null && contentLength > opts.maxBytes) {
    await body?.cancel().catch(() => {});
    throw new UploadError(413, `the upload (${contentLength} bytes) is larger than ${opts.maxBytes} bytes`);
  }
  if (!body) throw new UploadError(400, "the upload has no body: send a tar of <format>/<recordID>/…");
  if (contentLength === null) {
    await body.cancel().catch(() => {});
    throw new UploadError(
      411,
      "an upload needs a Content-Length: a chunked body costs bbblb memory and CPU that grow with its size",
    );
  }
  const id = newFolderId(opts.now);
  const staging = join(stagingRoot(opts.dir), id);
  let tooLarge = false;
  try {
    await makeDir(staging, null);
    const items = await extractArchive(limited(body, opts.maxBytes, () => (tooLarge = true)), staging, {
      maxBytes: opts.maxBytes,
    });
    const upload: UploadRecord = {
      id,
      serverId: opts.serverId,
      receivedAt: opts.now ?? Date.now(),
      state: "received",
      items: items.map((i) => ({ ...i, state: "pending", error: null })),
      owner: null,
      until: 0,
      finishedAt: null,
    };
    await saveUpload(opts.kv, upload);
    return upload;
  } catch (e) {
    await removeTree(staging).catch(() => {});
    if (tooLarge) throw new UploadError(413, `the upload is larger than ${opts.maxBytes} bytes`);
    if (e instanceof ArchiveError) {
      const status = e.problem === "tooLarge" ? 413 : e.problem === "noSpace" ? 507 : 400;
      throw new UploadError(status, e.message);
    }
    throw e;
  }
}
