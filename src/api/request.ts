/**
 * Reading an API request the way bbb-web does: the raw query string as sent, an optional body, and the
 * checksum verified over exactly the bytes the client signed.
 *
 * @module
 */
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, rawQueryOf, verifyChecksum } from "../bbb/checksum.ts";
import { BbbError } from "../bbb/errors.ts";
import { type Params, parseQuery } from "../bbb/query.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";

/** The secrets a request may be signed with, each with the tenant it admits, in the order they are tried. */
export type Keyring = readonly { secret: string; tenant: string }[];

/** A verified API call. */
export interface ApiRequest {
  /** The call name, e.g. `create`. */
  call: string;
  /** The tenant the request belongs to ({@linkcode DEFAULT_TENANT} for the global secret). */
  tenant: string;
  /** `GET` or `POST`. */
  method: string;
  /** The signed parameters, in the order sent. */
  params: Params;
  /** The signed query string minus the checksum, with the client's encoding kept byte for byte. */
  query: string;
  /**
   * A body to forward as it came, with its content type: XML (create's pre-uploaded slides, insertDocument) or
   * multipart (putRecordingTextTrack's file). Not covered by the checksum, as in BBB.
   */
  body?: { bytes: Uint8Array<ArrayBuffer>; contentType: string };
  /** The server the call went to, set by the handler for the log line. */
  server?: number;
}

/** Content types of a parameter body. */
const FORM = "application/x-www-form-urlencoded";
const XML_TYPES = ["application/xml", "text/xml"];
/** Calls that take a body other than parameters, and its accepted media types (bbb-web's per-call lists). */
const BODY_TYPES: Record<string, string[]> = {
  create: XML_TYPES,
  insertDocument: XML_TYPES,
  putRecordingTextTrack: ["multipart/form-data"],
};

/**
 * Verify and parse a request.
 *
 * A GET carries everything in its query. A POST may carry its parameters in a form body instead, but then the
 * checksum must cover the body (computed over the body string as if it were the query): unsigned parameters in
 * a body, or parameters split between query and body, are refused — bbb-web would accept them unauthenticated.
 *
 * @param secrets accepted API secrets (all the default tenant's), or a keyring naming each secret's tenant
 * @param maxBodyBytes larger bodies are refused
 * @param algorithms the checksum algorithms front-ends may sign with (`--checksum-algorithms`, BBB's
 *   `supportedChecksumAlgorithms`); a checksum made with another one is `checksumError`
 * @throws {BbbError} `checksumError`, `unsupportedContentType`, `requestTooLarge`, `validationError`
 */
export async function readApiRequest(
  req: Request,
  call: string,
  secrets: readonly string[] | Keyring,
  maxBodyBytes: number,
  algorithms: readonly ChecksumAlgorithm[] = CHECKSUM_ALGORITHMS,
): Promise<ApiRequest> {
  const keyring: Keyring = secrets.map((s) =>
    typeof s === "string" ? { secret: s, tenant: DEFAULT_TENANT } : s
  );
  let signed = rawQueryOf(req.url);
  let forwarded: ApiRequest["body"];
  if (req.method === "POST" && req.body !== null) {
    const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (type === FORM) {
      // Parameters are small: an unauthenticated client can make bbblb hold at most this much.
      const body = await readBody(req, Math.min(maxBodyBytes, MAX_FORM_BYTES));
      if (body.length > 0) {
        if (signed !== "") {
          throw new BbbError(
            "checksumError",
            "Parameters were split between the query string and the body; send them all in one place, signed.",
          );
        }
        try {
          signed = new TextDecoder("utf-8", { fatal: true }).decode(body);
        } catch {
          throw new BbbError("validationError", "The form body is not valid UTF-8.");
        }
      }
    } else if (Object.hasOwn(BODY_TYPES, call) && BODY_TYPES[call].includes(type)) {
      // The checksum covers the query only: verify it before reading a large body from anyone.
      verify(call, signed, keyring, algorithms);
      const body = await readBody(req, maxBodyBytes);
      if (body.length > 0) forwarded = { bytes: body, contentType: req.headers.get("content-type")! };
    } else {
      // Any other body is refused (an empty one is no body); reading stops at its first byte.
      const empty = await readBody(req, 0).then((b) => b.length === 0, () => false);
      if (!empty) {
        throw new BbbError("unsupportedContentType", "POST request Content-Type is missing or unsupported");
      }
    }
  }
  const { query, tenant } = verify(call, signed, keyring, algorithms);
  return { call, tenant, method: req.method, params: parseQuery(query), query, body: forwarded };
}

/** Largest form body (parameters, not files), in bytes. */
const MAX_FORM_BYTES = 2 * 1024 * 1024;

/**
 * Verify a signed string; returns it without the checksum, and the tenant of the first secret that verifies it.
 *
 * @throws {BbbError} `checksumError`
 */
function verify(
  call: string,
  signed: string,
  keyring: Keyring,
  algorithms: readonly ChecksumAlgorithm[],
): { query: string; tenant: string } {
  const secrets = keyring.map((k) => k.secret);
  let verified = verifyChecksum(call, signed, secrets, algorithms);
  if (!verified.ok && verified.problem === "mismatch" && /%27/i.test(signed)) {
    // JavaScript clients sign a raw `'` (encodeURIComponent and querystring leave it alone), then fetch() and
    // axios send it as `%27`. Both spell the same parameters, so the raw spelling is tried too.
    verified = verifyChecksum(call, signed.replace(/%27/gi, "'"), secrets, algorithms);
  }
  if (!verified.ok) {
    throw new BbbError(
      "checksumError",
      verified.problem === "missing" ? "You must provide the checksum" : "Checksums do not match",
    );
  }
  const matched = verified.secret;
  return { query: verified.query, tenant: keyring.find((k) => k.secret === matched)!.tenant };
}

async function readBody(req: Request, max: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > max) throw tooLarge(max);
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of req.body) {
      size += chunk.length;
      if (size > max) throw tooLarge(max);
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof BbbError) throw e;
    throw new BbbError("validationError", "The request body could not be read (the client went away?).");
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function tooLarge(max: number): BbbError {
  return new BbbError("requestTooLarge", `The request body is larger than the limit of ${max} bytes.`);
}
