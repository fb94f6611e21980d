/**
 * BBB query strings: strict parsing of what clients send and consistent encoding of what bbblb sends.
 *
 * @module
 */
import { BbbError } from "./errors.ts";

/** Parameters in the order they were sent. A name may repeat; {@linkcode get} returns the first value. */
export type Params = [name: string, value: string][];

/**
 * Parse an `application/x-www-form-urlencoded` string (a query or a form body): `+` is a space, escapes are
 * UTF-8. Empty pairs (`a&&b`) are skipped.
 *
 * @throws {BbbError} `validationError` naming the parameter when an escape is malformed or not UTF-8, since
 *   bbblb cannot store or forward what it cannot decode.
 */
export function parseQuery(raw: string): Params {
  const params: Params = [];
  for (const pair of raw.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? "" : pair.slice(eq + 1);
    const name = decode(rawName, rawName);
    params.push([name, decode(rawValue, name)]);
  }
  return params;
}

function decode(s: string, name: string): string {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
    throw new BbbError(
      "validationError",
      `Parameter "${shown}" is not valid: it contains a malformed percent-escape or invalid UTF-8.`,
    );
  }
}

/** The first value of `name`, or `undefined`. */
export function get(params: Params, name: string): string | undefined {
  return params.find(([n]) => n === name)?.[1];
}

/**
 * Encode parameters as a query string with `encodeURIComponent` (spaces as `%20`), keeping their order.
 * BBB verifies whatever encoding it is sent, as long as the checksum covers those exact bytes.
 */
export function encodeQuery(params: Params): string {
  return params.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join("&");
}

/**
 * Percent-encode what a WHATWG URL parser would encode in a query string — controls, space, `"`, `#`, `<`,
 * `>`, `'` and non-ASCII — and nothing else. `fetch()` and browsers following a redirect apply that parser, so
 * bbblb signs the query in this form: the bytes signed are then the bytes the BBB server receives. A client's
 * own encoding of every other character is kept.
 *
 * @example
 * ```ts
 * import { urlSafeQuery } from "./query.ts";
 * if (urlSafeQuery("fullName=O'Neil&x=%20") !== "fullName=O%27Neil&x=%20") throw new Error();
 * ```
 */
export function urlSafeQuery(query: string): string {
  // deno-lint-ignore no-control-regex
  return query.replace(/[\u0000-\u0020"#<>'\u007f-\u{10ffff}]/gu, (c) => {
    if (c === "'") return "%27";
    try {
      return encodeURIComponent(c);
    } catch {
      return "%EF%BF%BD"; // a lone surrogate: U+FFFD, as a URL parser would
    }
  });
}

/**
 * Replace the value of `name` in a raw query string, keeping every other byte (encoding included).
 *
 * @example
 * ```ts
 * import { replaceParam } from "./query.ts";
 * if (replaceParam("a=%27x%27&meetingID=m1", "meetingID", "t~m1") !== "a=%27x%27&meetingID=t~m1") throw new Error();
 * ```
 */
export function replaceParam(query: string, name: string, value: string): string {
  return query.split("&").map((pair) => {
    const eq = pair.indexOf("=");
    const raw = eq < 0 ? pair : pair.slice(0, eq);
    let decoded = raw;
    try {
      decoded = decodeURIComponent(raw.replaceAll("+", " "));
    } catch { /* not this one */ }
    return decoded === name ? `${raw}=${encodeURIComponent(value)}` : pair;
  }).join("&");
}
