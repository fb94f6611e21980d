/**
 * BBB XML in and out, with fast-xml-parser set up the way BBB needs it.
 *
 * The parser's defaults are wrong for BBB: `meetingID` "00123" would become the number 123 and a single
 * `<meeting>` would not be an array. Values stay strings and repeating elements are always arrays.
 *
 * @module
 */
import { XMLBuilder, XMLParser } from "fast-xml-parser";

/** Elements that repeat in BBB answers and are therefore always parsed as arrays. */
const REPEATING = new Set([
  "meeting",
  "attendee",
  "recording",
  "format",
  "image",
  "error",
  "hook",
  "breakoutRoom",
]);

const parser = new XMLParser({
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreAttributes: false,
  trimValues: true,
  isArray: (name) => REPEATING.has(name),
});

/**
 * For the poller's `getMeetings`: the same, but the per-user and per-meeting detail it never reads (attendees,
 * metadata, breakout room lists) stays one unparsed string each. A real server's answer is mostly attendees, and
 * parsing them into objects made most of the garbage of a poll round.
 */
const listParser = new XMLParser({
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreAttributes: false,
  trimValues: true,
  isArray: (name) => REPEATING.has(name),
  stopNodes: ["*.attendees", "*.metadata", "*.breakoutRooms"],
});

const orderedParser = new XMLParser({
  preserveOrder: true,
  parseTagValue: false,
  ignoreAttributes: false,
  trimValues: true,
  cdataPropName: "#cdata",
});

const builder = new XMLBuilder({
  suppressEmptyNode: false,
  ignoreAttributes: false,
  cdataPropName: "#cdata",
});
const orderedBuilder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  suppressEmptyNode: true,
  cdataPropName: "#cdata",
});

/** A parsed element: text, or child elements by name (arrays for {@linkcode REPEATING} names). */
// deno-lint-ignore no-explicit-any
export type XmlValue = any;

/** The `<response>` of a BBB answer, with string values. */
export interface BbbResponse {
  returncode?: string;
  messageKey?: string;
  message?: string;
  [element: string]: XmlValue;
}

/**
 * Parse a BBB answer and return its `<response>` element.
 *
 * @throws {Error} when the text is not XML or has no `<response>` root (an HTML error page, garbage).
 */
export function parseResponse(text: string): BbbResponse {
  return parseWith(parser, text);
}

/**
 * Parse a `getMeetings` answer for the poller: like {@linkcode parseResponse} (validated the same way), but each
 * meeting's `attendees`, `metadata` and `breakoutRooms` are left as unparsed strings.
 *
 * @throws {Error} when the text is not XML or has no `<response>` root
 */
export function parseMeetingList(text: string): BbbResponse {
  return parseWith(listParser, text);
}

function parseWith(p: XMLParser, text: string): BbbResponse {
  let doc: Record<string, unknown>;
  try {
    doc = p.parse(text, true);
  } catch (e) {
    throw new Error(`not XML: ${(e as Error).message}`);
  }
  const response = doc.response;
  if (response === undefined || response === null || typeof response !== "object") {
    throw new Error("not a BBB answer: no <response> element");
  }
  return response as BbbResponse;
}

/**
 * Render a `<response>` document from an object whose key order is the element order. Arrays become repeated
 * elements; strings are escaped. No prolog, like bbb-web.
 *
 * @example
 * ```ts
 * import { renderResponse } from "./xml.ts";
 * const xml = renderResponse({ returncode: "SUCCESS", running: "false" });
 * if (xml !== "<response><returncode>SUCCESS</returncode><running>false</running></response>") throw new Error(xml);
 * ```
 */
export function renderResponse(response: Record<string, XmlValue>): string {
  return builder.build({ response });
}

/** One element of an order-preserving parse, as fast-xml-parser's `preserveOrder` shape. */
export type OrderedNode = Record<string, XmlValue>;

/**
 * The `<item>` elements inside `<response><list>` of an answer (`meetings`/`meeting`, `recordings`/`recording`),
 * each kept whole (order, attributes, CDATA) so that bbblb can pass them through without knowing every element a
 * BBB version adds.
 */
export function listNodes(text: string, list: string, item: string): OrderedNode[] {
  const doc: OrderedNode[] = orderedParser.parse(text);
  return childrenOf(childrenOf(doc, "response"), list).filter((n) => item in n);
}

/** The `<meeting>` elements of a getMeetings answer (see {@linkcode listNodes}). */
export function meetingNodes(text: string): OrderedNode[] {
  return listNodes(text, "meetings", "meeting");
}

/** The text of child element `name` of an ordered node (e.g. a `<recording>`'s `recordID`), or `undefined`. */
export function childText(node: OrderedNode, name: string): string | undefined {
  const element = Object.keys(node).find((k) => k !== ":@")!;
  const child = childrenOf(node[element], name);
  const text = child.find((n) => "#text" in n)?.["#text"] ??
    child.find((n) => "#cdata" in n)?.["#cdata"]?.[0]?.["#text"];
  return text === undefined ? undefined : String(text);
}

function childrenOf(nodes: OrderedNode[], name: string): OrderedNode[] {
  const node = nodes.find((n) => name in n);
  return node ? node[name] : [];
}

/** Render a `<response>` from order-preserving children (fast-xml-parser's `preserveOrder` shape). */
export function renderOrdered(children: OrderedNode[]): string {
  return orderedBuilder.build([{ response: children }]);
}

/** Render a SUCCESS answer holding one list of whole elements, e.g. `<meetings>` of `<meeting>` nodes. */
export function renderList(list: string, nodes: OrderedNode[]): string {
  return orderedBuilder.build([{ response: [{ returncode: [{ "#text": "SUCCESS" }] }, { [list]: nodes }] }]);
}

/** Render a getMeetings answer from `<meeting>` nodes taken with {@linkcode meetingNodes}. */
export function renderMeetings(nodes: OrderedNode[]): string {
  return renderList("meetings", nodes);
}
