/**
 * BBB API checksums: signing outgoing calls and verifying incoming ones exactly as bbb-web does.
 *
 * Source: bbb-web `ValidationService`/`ParamsUtil` (see shared/reference/bbb-api.md §1): the checksum is
 * `hex(H(callName + queryWithoutChecksum + secret))`, the algorithm is chosen by the hex length, and the query is
 * the raw string as received with the checksum pair removed by literal replacement.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** A checksum algorithm BBB accepts (since 2.5). */
export type ChecksumAlgorithm = "sha1" | "sha256" | "sha384" | "sha512";

/** All algorithms, in the order BBB lists them. */
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ["sha1", "sha256", "sha384", "sha512"];

const BY_LENGTH: Record<number, ChecksumAlgorithm> = {
  40: "sha1",
  64: "sha256",
  96: "sha384",
  128: "sha512",
};

/**
 * The algorithm a checksum of this many hex characters was made with, or `undefined` for any other length.
 *
 * @example
 * ```ts
 * import { algorithmForLength } from "./checksum.ts";
 * if (algorithmForLength(64) !== "sha256") throw new Error();
 * ```
 */
export function algorithmForLength(length: number): ChecksumAlgorithm | undefined {
  return BY_LENGTH[length];
}

/** Lower-case hex checksum of `call + query + secret`. */
export function checksum(algorithm: ChecksumAlgorithm, call: string, query: string, secret: string): string {
  return createHash(algorithm).update(call + query + secret).digest("hex");
}

/**
 * The raw query string of a request target, exactly as the client sent it (`""` when there is none).
 *
 * `new URL(url).search` re-encodes some characters (`'` becomes `%27`), which breaks clients that signed the
 * raw form; slicing keeps the bytes as received. A fragment is never sent by clients and is not removed.
 */
export function rawQueryOf(url: string): string {
  const i = url.indexOf("?");
  return i < 0 ? "" : url.slice(i + 1);
}

/** The query without its checksum, and the checksum value (`undefined` when absent). */
export interface SplitQuery {
  /** The query string with the checksum pair removed, as bbb-web computes it. */
  query: string;
  /** The (percent-decoded) value of the first `checksum` parameter, or `undefined`. */
  checksum: string | undefined;
}

/**
 * Remove the checksum from a raw query string the way bbb-web does: strip control characters and surrounding
 * whitespace, then replace every `&checksum=v`, then `checksum=v&`, then `checksum=v` literally, where `v` is
 * the value of the first `checksum` parameter. Works wherever the pair stands (first, middle, last).
 */
export function splitChecksum(rawQuery: string): SplitQuery {
  // deno-lint-ignore no-control-regex
  const query = rawQuery.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").trim();
  let value: string | undefined;
  for (const pair of query.split("&")) {
    if (pair.startsWith("checksum=")) {
      value = pair.slice("checksum=".length);
      break;
    }
  }
  if (value === undefined) return { query, checksum: undefined };
  let decoded = value;
  try {
    decoded = decodeURIComponent(value.replaceAll("+", " "));
  } catch {
    // keep it raw: a malformed escape can only be a wrong checksum
  }
  const rest = query
    .replaceAll(`&checksum=${decoded}`, "")
    .replaceAll(`checksum=${decoded}&`, "")
    .replaceAll(`checksum=${decoded}`, "");
  return { query: rest, checksum: decoded };
}

/** Why a checksum did not verify. */
export type ChecksumProblem = "missing" | "mismatch";

/**
 * Verify the checksum of an incoming call against any of `secrets`, in constant time per comparison.
 *
 * @param call the call name, e.g. `"create"` or `"hooks/create"`
 * @param rawQuery the query string exactly as received (see {@linkcode rawQueryOf})
 * @param secrets the accepted shared secrets (several during a rotation)
 * @param allowed the accepted algorithms (default: all four, as BBB's `supportedChecksumAlgorithms`)
 * @returns `{ ok: true, query, secret }` with the query minus its checksum, or `{ ok: false, problem }`
 */
export function verifyChecksum(
  call: string,
  rawQuery: string,
  secrets: readonly string[],
  allowed: readonly ChecksumAlgorithm[] = CHECKSUM_ALGORITHMS,
): { ok: true; query: string; secret: string } | { ok: false; problem: ChecksumProblem } {
  const { query, checksum: given } = splitChecksum(rawQuery);
  if (!given) return { ok: false, problem: "missing" };
  const algorithm = algorithmForLength(given.length);
  if (!algorithm || !allowed.includes(algorithm) || !/^[0-9a-fA-F]+$/.test(given)) {
    return { ok: false, problem: "mismatch" };
  }
  const givenBytes = new TextEncoder().encode(given.toLowerCase());
  let match: string | undefined;
  for (const secret of secrets) {
    const expected = new TextEncoder().encode(checksum(algorithm, call, query, secret));
    // Compare against every secret (no early exit) so timing says nothing about which one matched.
    if (timingSafeEqual(expected, givenBytes) && match === undefined) match = secret;
  }
  return match === undefined ? { ok: false, problem: "mismatch" } : { ok: true, query, secret: match };
}

/**
 * The query string for a call to a backend: `query` plus a checksum made with that backend's secret.
 *
 * @example
 * ```ts
 * import { signQuery } from "./checksum.ts";
 * const q = signQuery("create", "meetingID=m1", "secret", "sha1");
 * if (q !== "meetingID=m1&checksum=863c8f1f74554d3527d943540a90a8839a8a8594") throw new Error(q);
 * ```
 */
export function signQuery(call: string, query: string, secret: string, algorithm: ChecksumAlgorithm): string {
  const sum = checksum(algorithm, call, query, secret);
  return query === "" ? `checksum=${sum}` : `${query}&checksum=${sum}`;
}
