/**
 * BBB's `metadata.xml` of one published format, read the way bbb-web reads it (`RecMeta.getRecMeta` in
 * bbb-common-web's `Recording.scala`): `<recording>` with `id`, `state`, `published`, `start_time`, `end_time`,
 * `participants`, `raw_size`, `<meeting id externalId name breakout>`, `<meta>` (its children become the
 * recording's metadata), `<breakout>`, `<breakoutRooms>`, and `<playback>` with `format`, `link`,
 * `processing_time`, `duration`, `size` and `<extensions><preview><images><image width height alt>URL</image>`.
 *
 * @module
 */
import { XMLParser } from "fast-xml-parser";

/** What one format's `metadata.xml` says. */
export interface FormatMetadata {
  recordID: string;
  /** `published`, `unpublished`, `deleted`, …; Scalelite reads `available` (an old screenshare bug) as published. */
  state: string;
  published: boolean;
  startTime: number;
  endTime: number;
  participants: number;
  rawSize: number;
  /** `<meeting id>`: the internalMeetingID. */
  internalMeetingID: string | null;
  /** `<meeting externalId>`, else `<meta><meetingId>`: the meetingID as the BBB server saw it (scoped). */
  externalMeetingID: string;
  /** `<meeting name>`, else `<meta><meetingName>`. */
  name: string;
  isBreakout: boolean;
  meta: Record<string, string>;
  breakout: { parentId: string; sequence: number; meetingId: string } | null;
  breakoutRooms: string[];
  playback: {
    format: string;
    link: string;
    processingTime: number;
    duration: number;
    size: number;
    images: { url: string; width: string | null; height: string | null; alt: string | null }[];
  };
}

/** A `metadata.xml` bbblb cannot use, with the reason. */
export class MetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetadataError";
  }
}

const parser = new XMLParser({
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  trimValues: true,
  processEntities: true,
  isArray: (name) => name === "image" || name === "breakoutRoom",
});

// deno-lint-ignore no-explicit-any
type Node = any;

/** The text of an element parsed by {@linkcode parser} (text, an element with attributes, or absent). */
function text(node: Node): string {
  if (node === undefined || node === null) return "";
  if (typeof node === "string") return node;
  if (Array.isArray(node)) return text(node[0]);
  if (typeof node === "object" && typeof node["#text"] === "string") return node["#text"];
  return "";
}

function int(node: Node, fallback = 0): number {
  const t = text(node).trim();
  return /^-?\d{1,16}$/.test(t) ? Number(t) : fallback;
}

/**
 * Parse one `metadata.xml`.
 *
 * @throws {MetadataError} when it is not XML, has no `<recording>`, no `<id>`, or no `<playback><format>`
 */
export function parseMetadataXml(xml: string): FormatMetadata {
  let doc: Node;
  try {
    doc = parser.parse(xml, true);
  } catch (e) {
    throw new MetadataError(`metadata.xml is not XML: ${(e as Error).message}`);
  }
  const r = doc?.recording;
  if (!r || typeof r !== "object") throw new MetadataError("metadata.xml has no <recording> element");
  const recordID = text(r.id).trim();
  if (recordID === "") throw new MetadataError("metadata.xml has no <id>");
  const meta: Record<string, string> = {};
  if (r.meta && typeof r.meta === "object") {
    for (const [k, v] of Object.entries(r.meta)) {
      if (k.startsWith("@") || k === "#text") continue;
      meta[k] = text(v);
    }
  }
  const meeting = r.meeting && typeof r.meeting === "object" ? r.meeting : null;
  const pb = r.playback;
  const format = text(pb?.format).trim();
  if (!pb || format === "") throw new MetadataError("metadata.xml has no <playback><format>");
  const images: FormatMetadata["playback"]["images"] = [];
  for (const img of pb.extensions?.preview?.images?.image ?? []) {
    const url = text(img).trim();
    if (url === "") continue;
    const attr = (
      name: string,
    ) => (typeof img === "object" && img[`@${name}`] !== undefined ? String(img[`@${name}`]) : null);
    images.push({ url, width: attr("width"), height: attr("height"), alt: attr("alt") });
  }
  const state = text(r.state).trim() || "published";
  const breakout = r.breakout && typeof r.breakout === "object"
    ? {
      parentId: String(r.breakout["@parentMeetingId"] ?? ""),
      sequence: Number(r.breakout["@sequence"] ?? 0) || 0,
      meetingId: String(r.breakout["@meetingId"] ?? ""),
    }
    : null;
  return {
    recordID,
    state: state === "available" ? "published" : state,
    published: (text(r.published).trim() || "true").toLowerCase() === "true",
    startTime: int(r.start_time),
    endTime: int(r.end_time),
    participants: int(r.participants),
    rawSize: int(r.raw_size),
    internalMeetingID: meeting?.["@id"] ? String(meeting["@id"]) : null,
    externalMeetingID: meeting?.["@externalId"]
      ? String(meeting["@externalId"])
      : (meta.meetingId ?? recordID),
    name: meeting?.["@name"] !== undefined ? String(meeting["@name"]) : (meta.meetingName ?? "unknown"),
    isBreakout: meeting?.["@breakout"] !== undefined
      ? String(meeting["@breakout"]).toLowerCase() === "true"
      : (meta.isBreakout ?? "false").toLowerCase() === "true",
    meta,
    breakout,
    breakoutRooms: (r.breakoutRooms?.breakoutRoom ?? []).map((b: Node) => text(b)).filter((b: string) =>
      b !== ""
    ),
    playback: {
      format,
      link: text(pb.link).trim(),
      processingTime: int(pb.processing_time),
      duration: int(pb.duration),
      size: int(pb.size),
      images,
    },
  };
}

/** Path, query and fragment of a URL (its host is replaced with bbblb's when listed); `""` when none. */
export function pathOf(url: string): string {
  if (url === "") return "";
  try {
    const u = new URL(url);
    return `${u.pathname}${u.search}${u.hash}`;
  } catch {
    return url.startsWith("/") ? url : `/${url}`;
  }
}
