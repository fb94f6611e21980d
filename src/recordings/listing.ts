/**
 * getRecordings over the recordings in custody, as bbb-web answers it: the filters (`recordID` and `meetingID`
 * as prefixes of the recordID, `state`, `meta_*` with `%` wildcards) and each `<recording>` in the element order
 * of bbb-web's `RecMetaResponse.toXml` (bbb-common-web `Recording.scala`), its formats merged, every URL on
 * bbblb's host. Pure functions.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { get, type Params } from "../bbb/query.ts";
import type { OrderedNode } from "../bbb/xml.ts";
import { backendMeetingID } from "../cluster/tenancy.ts";
import { effectiveMeta, type RecordingRecord, type RecordingSummary } from "../store/recordings.ts";

/** A parsed getRecordings query. */
export interface RecordingQuery {
  /** recordID prefixes (from `recordID`, else `sha1` of each `meetingID` as BBB saw it); empty: every recording. */
  prefixes: string[];
  /** The states asked for (`any` for all); empty: published and unpublished. */
  states: string[];
  /** `meta_*` filters, lower-cased names. */
  meta: [string, string][];
}

/**
 * bbb-web's `ParamsProcessorUtil.decodeIds`: the value is URL-decoded once more (`+` is a space) and split on
 * commas (trailing empty entries dropped).
 */
export function decodeIds(value: string): string[] {
  const decoded = value.replaceAll("+", " ").replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return new TextDecoder().decode(bytes);
  });
  const parts = decoded.split(",").map((p) => p.trim());
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/** The getRecordings query of a tenant's request. */
export function recordingQuery(params: Params, tenant: string): RecordingQuery {
  const recordID = get(params, "recordID");
  const meetingID = get(params, "meetingID");
  const state = get(params, "state");
  let prefixes = recordID ? decodeIds(recordID).filter((p) => p !== "") : [];
  if (prefixes.length === 0 && meetingID) {
    prefixes = decodeIds(meetingID).map((id) =>
      createHash("sha1").update(backendMeetingID(tenant, id)).digest("hex")
    );
  }
  const meta: [string, string][] = [];
  for (const [name, value] of params) {
    if (/^meta_[a-zA-Z][a-zA-Z0-9-]*$/.test(name) && !meta.some(([n]) => n === name.slice(5).toLowerCase())) {
      meta.push([name.slice(5).toLowerCase(), value.trim()]);
    }
  }
  return { prefixes, states: state ? decodeIds(state) : [], meta };
}

/** Whether a state is asked for (bbb-web's `shouldIncludeState`). */
export function stateIncluded(states: readonly string[], state: string): boolean {
  if (states.length === 0) return state === "published" || state === "unpublished";
  return states.includes("any") || states.includes(state);
}

/** One metadata filter: `%x%` contains, `%x` ends with, `x%` starts with, else equal (bbb-web). */
export function metaMatches(value: string, filter: string): boolean {
  if (filter === "") return value === "";
  const first = filter.startsWith("%");
  const last = filter.endsWith("%");
  if (first && last && filter.length >= 2 && value.includes(filter.slice(1, -1))) return true;
  if (first && value.endsWith(filter.slice(1))) return true;
  if (last && value.startsWith(filter.slice(0, -1))) return true;
  return value === filter;
}

/** Whether a recording passes the query's state and metadata filters (the prefixes select what is read). */
export function recordingMatches(r: RecordingRecord, q: RecordingQuery): boolean {
  if (!stateIncluded(q.states, r.state)) return false;
  return q.meta.length === 0 || summaryMatches({ state: r.state, meta: effectiveMeta(r) }, q);
}

/**
 * {@linkcode recordingMatches} for a recording as the start-time index keeps it (`meta` is the metadata it is
 * listed with).
 */
export function summaryMatches(s: RecordingSummary, q: RecordingQuery): boolean {
  if (!stateIncluded(q.states, s.state)) return false;
  return q.meta.every(([k, f]) => Object.hasOwn(s.meta, k) && metaMatches(s.meta[k], f));
}

/** Start time, then recordID: the order bbblb lists recordings in. */
export function byStart(
  a: { startTime: number; recordID: string },
  b: { startTime: number; recordID: string },
) {
  return a.startTime - b.startTime || (a.recordID < b.recordID ? -1 : a.recordID > b.recordID ? 1 : 0);
}

const text = (v: string | number | boolean): OrderedNode[] => [{ "#text": String(v) }];

/** An element with text. */
function el(name: string, value: string | number | boolean): OrderedNode {
  return { [name]: value === "" ? [] : text(value) };
}

/**
 * The `<recording>` element of a recording, every URL on `base` (`BBBLB_URL`, or the tenant's own host), its
 * meetingID as the BBB server saw it (the tenant's answer unscopes it, as for recordings listed by servers).
 */
export function recordingNode(r: RecordingRecord, base: string): OrderedNode {
  const children: OrderedNode[] = [
    el("recordID", r.recordID),
    el("meetingID", backendMeetingID(r.tenant, r.meetingID)),
    el("internalMeetingID", r.internalMeetingID),
    el("name", r.name),
    el("isBreakout", r.isBreakout),
    el("published", r.state === "published"),
    el("state", r.state),
    el("startTime", r.startTime),
    el("endTime", r.endTime),
    el("participants", r.participants),
    { metadata: Object.entries(effectiveMeta(r)).map(([k, v]) => el(k, v)) },
  ];
  if (r.breakout) {
    children.push({ breakout: [el("parentId", r.breakout.parentId), el("sequence", r.breakout.sequence)] });
  }
  if (r.breakoutRooms.length > 0) {
    children.push({ breakoutRooms: r.breakoutRooms.map((b) => el("breakoutRoom", b)) });
  }
  const formats = Object.values(r.formats).map((f) => {
    const format: OrderedNode[] = [
      el("type", f.format),
      el("url", f.linkPath === "" ? "" : `${base}${f.linkPath}`),
      el("processingTime", f.processingTime),
      el("length", Math.floor(f.duration / 60000)),
    ];
    if (f.images.length > 0) {
      format.push({
        preview: [{
          images: f.images.map((i) => {
            const attrs: Record<string, string> = {};
            if (i.width !== null) attrs["@_width"] = i.width;
            if (i.height !== null) attrs["@_height"] = i.height;
            if (i.alt !== null) attrs["@_alt"] = i.alt;
            return { image: text(`${base}${i.path}`), ":@": attrs };
          }),
        }],
      });
    }
    return { format };
  });
  children.push({ playback: formats });
  return { recording: children };
}
