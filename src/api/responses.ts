/**
 * HTTP responses of the BBB API: XML with HTTP 200, the way bbb-web sends it.
 *
 * @module
 */
import { renderResponse } from "../bbb/xml.ts";

const XML_HEADERS = { "content-type": "text/xml;charset=utf-8", "cache-control": "no-cache" };

/** returncode and messageKey of an answer, for the log line and metrics. */
export interface Outcome {
  returncode?: string;
  messageKey?: string;
}

/** The outcomes of the XML answers built here, so the log line need not read the body a second time. */
const outcomes = new WeakMap<Response, Outcome>();

/** returncode and messageKey from the head of an XML text (they come first in BBB's answers). */
function outcomeOfText(text: string): Outcome {
  const head = text.slice(0, 2000);
  return {
    returncode: head.match(/<returncode>([^<]*)<\/returncode>/)?.[1],
    messageKey: head.match(/<messageKey>([^<]*)<\/messageKey>/)?.[1] ??
      head.match(/<key>([^<]*)<\/key>/)?.[1],
  };
}

/** An XML answer (a rendered document, or a backend's answer passed through as it came). */
export function xml(text: string): Response {
  const res = new Response(text, { status: 200, headers: XML_HEADERS });
  outcomes.set(res, outcomeOfText(text));
  return res;
}

/**
 * returncode and messageKey of an answer: known for answers built with {@linkcode xml}, else read from the head
 * of a copy of an XML body; `{}` for anything else (redirects, JSON, HTML pages).
 */
export async function outcomeOf(res: Response): Promise<Outcome> {
  const known = outcomes.get(res);
  if (known) return known;
  if (!res.headers.get("content-type")?.startsWith("text/xml")) return {};
  return outcomeOfText(await res.clone().text());
}

/** A SUCCESS document with these elements after `<returncode>`, in this order. */
export function success(fields: Record<string, unknown> = {}): Response {
  return xml(renderResponse({ returncode: "SUCCESS", ...fields }));
}

/** BBB's FAILED envelope, in BBB's element order: returncode, messageKey, message. */
export function failed(messageKey: string, message: string): Response {
  return xml(renderResponse({ returncode: "FAILED", messageKey, message }));
}
