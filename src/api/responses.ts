/**
 * HTTP responses of the BBB API: XML with HTTP 200, the way bbb-web sends it.
 *
 * @module
 */
import { renderResponse } from "../bbb/xml.ts";

const XML_HEADERS = { "content-type": "text/xml;charset=utf-8", "cache-control": "no-cache" };

/** An XML answer (a rendered document, or a backend's answer passed through as it came). */
export function xml(text: string): Response {
  return new Response(text, { status: 200, headers: XML_HEADERS });
}

/** A SUCCESS document with these elements after `<returncode>`, in this order. */
export function success(fields: Record<string, unknown> = {}): Response {
  return xml(renderResponse({ returncode: "SUCCESS", ...fields }));
}

/** BBB's FAILED envelope, in BBB's element order: returncode, messageKey, message. */
export function failed(messageKey: string, message: string): Response {
  return xml(renderResponse({ returncode: "FAILED", messageKey, message }));
}
