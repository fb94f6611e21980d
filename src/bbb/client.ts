/**
 * Client for the backend BBB servers: signs each call with the server's own secret, bounds it with a timeout
 * and turns every kind of failure into one {@linkcode BackendError}.
 *
 * @module
 */
import { type ChecksumAlgorithm, signQuery } from "./checksum.ts";
import { urlSafeQuery } from "./query.ts";
import { type BbbResponse, parseResponse } from "./xml.ts";

/** What bbblb needs to know to call one BBB server. */
export interface Backend {
  /** The API base, ending in `/bigbluebutton/api/`. */
  apiUrl: string;
  /** The server's shared secret (`bbb-conf --secret`). */
  secret: string;
  /** The algorithm bbblb signs its calls to this server with. */
  checksum: ChecksumAlgorithm;
}

/**
 * Why a backend call failed, for logs, health and the admin. `refused`: the connection was refused, so the
 * server never saw the request; every other kind may come after the server acted on it (a create that BBB
 * performed but whose answer was lost).
 */
export type BackendFailure = "refused" | "unreachable" | "timeout" | "http" | "invalid";

/** A call to a BBB server that did not produce a BBB answer. */
export class BackendError extends Error {
  /** The kind of failure. */
  readonly kind: BackendFailure;

  /**
   * @param kind the kind of failure
   * @param message what happened, without secrets or checksums
   */
  constructor(kind: BackendFailure, message: string) {
    super(message);
    this.name = "BackendError";
    this.kind = kind;
  }
}

/**
 * The signed URL of a call on a backend.
 *
 * @param query the query string without checksum, already encoded: kept byte for byte, except for the
 *   characters a URL parser would re-encode anyway (see {@linkcode urlSafeQuery})
 */
export function backendUrl(backend: Backend, call: string, query: string): string {
  const safe = urlSafeQuery(query);
  return `${backend.apiUrl}${call}?${signQuery(call, safe, backend.secret, backend.checksum)}`;
}

/** Options of {@linkcode callBackend}. */
export interface CallOptions {
  /** Abort the call (connect, headers and body) after this many milliseconds. */
  timeoutMs: number;
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** A request body (POST); the query still carries every signed parameter. */
  body?: BodyInit;
  /** Content type of `body`. */
  contentType?: string;
  /** An extra signal, e.g. the client's request going away. */
  signal?: AbortSignal;
  /** What the answer is: BBB's XML (most calls) or JSON (text tracks). @default "xml" */
  expect?: "xml" | "json";
  /** How an XML answer is parsed (it must throw for anything but a BBB `<response>`). @default parseResponse */
  parse?: (text: string) => BbbResponse;
}

/** A BBB answer: the raw text (to pass through) and its parsed `<response>`. */
export interface BackendAnswer {
  /** The body exactly as the server sent it. */
  text: string;
  /** The answer's content type, to pass through with it. */
  contentType: string;
  /** The parsed `<response>` element. */
  response: BbbResponse;
}

/**
 * Call `call` on a backend and parse its answer.
 *
 * @param query the query string without checksum, already encoded
 * @throws {BackendError} on connection failure, timeout, an HTTP status other than 200, or a body that is not
 *   a BBB `<response>` (an HTML error page, garbage). A BBB `FAILED` answer is *not* an error.
 */
export async function callBackend(
  backend: Backend,
  call: string,
  query: string,
  options: CallOptions,
): Promise<BackendAnswer> {
  const url = backendUrl(backend, call, query);
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const doFetch = options.fetch ?? fetch;
  let text: string;
  let contentType = "";
  try {
    const res = await doFetch(url, {
      method: options.body === undefined ? "GET" : "POST",
      body: options.body,
      headers: options.contentType ? { "content-type": options.contentType } : undefined,
      redirect: "manual",
      signal,
    });
    text = await res.text();
    contentType = res.headers.get("content-type") ?? "";
    if (res.status !== 200) {
      throw new BackendError("http", `${call}: HTTP ${res.status} from ${originOf(backend)}`);
    }
  } catch (e) {
    if (e instanceof BackendError) throw e;
    if (timeout.aborted) {
      throw new BackendError(
        "timeout",
        `${call}: no answer from ${originOf(backend)} within ${options.timeoutMs} ms`,
      );
    }
    const why = reason(e);
    throw new BackendError(
      /connection refused|os error 111|ECONNREFUSED/i.test(why) ? "refused" : "unreachable",
      `${call}: cannot reach ${originOf(backend)}: ${why}`,
    );
  }
  try {
    if (options.expect === "json") {
      const parsed = JSON.parse(text);
      if (!parsed || typeof parsed.response !== "object") throw new Error("no response object");
      return { text, contentType, response: parsed.response };
    }
    return { text, contentType, response: (options.parse ?? parseResponse)(text) };
  } catch (e) {
    throw new BackendError(
      "invalid",
      `${call}: ${originOf(backend)} did not answer BBB ${options.expect === "json" ? "JSON" : "XML"} (${
        (e as Error).message
      })`,
    );
  }
}

/**
 * A fetch error's message with its cause ("connection refused", a DNS error), which fetch hides — without the
 * request's query string: Deno's messages can quote the URL, and its checksum is reusable for that call.
 */
function reason(e: unknown): string {
  const err = e as Error & { cause?: unknown };
  const cause = err.cause instanceof Error ? err.cause.message : err.cause ? String(err.cause) : "";
  return withoutQueries(cause && !err.message.includes(cause) ? `${err.message} (${cause})` : err.message);
}

/** Remove query strings (and with them any checksum) from URLs quoted in a message. */
export function withoutQueries(message: string): string {
  return message.replace(/(https?:\/\/[^\s?#)]*)\?[^\s)]*/g, "$1").replace(
    /checksum=[0-9a-fA-F]+/g,
    "checksum=…",
  );
}

function originOf(backend: Backend): string {
  try {
    return new URL(backend.apiUrl).host;
  } catch {
    return "server";
  }
}

/**
 * Normalise a server URL as printed by `bbb-conf --secret` (`https://host/bigbluebutton/`, also with `api/`,
 * with or without the trailing slash) to the API base `https://host/bigbluebutton/api/`.
 *
 * @throws {Error} when it is not an http(s) URL.
 */
export function normalizeApiUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new Error(
      `"${input}" is not a URL; give it as bbb-conf --secret prints it, e.g. https://bbb1.example.org/bigbluebutton/`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`"${input}" is not an http(s) URL`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new Error(`"${input}" must not carry a query, fragment or credentials`);
  }
  let path = url.pathname.replace(/\/+$/, "");
  if (path.endsWith("/api")) path = path.slice(0, -4);
  if (path === "") path = "/bigbluebutton";
  return `${url.origin}${path}/api/`;
}
