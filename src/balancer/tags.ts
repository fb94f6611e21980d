/**
 * Server tags (Scalelite's `meta_server-tag`): a create may ask for servers carrying certain tags, optionally
 * requiring them. Pure functions over candidate servers.
 *
 * Source: Scalelite's `Server.find_available` (shared/reference/scalelite.md §2.3, §4.2): the value is a
 * `;`-separated list that may end in `!` (required); the tag `none` matches untagged servers; without a match, or
 * without the parameter, only untagged servers are used, unless the tags were required.
 *
 * @module
 */

/** A parsed `meta_server-tag` value. */
export interface TagRequest {
  /** The tags asked for (empty: none asked). */
  tags: string[];
  /** Whether a server with one of them is required (the value ended in `!`). */
  required: boolean;
}

/**
 * Parse `meta_server-tag`: `"big;video!"` → `{ tags: ["big", "video"], required: true }`.
 *
 * @example
 * ```ts
 * import { parseTagRequest } from "./tags.ts";
 * const r = parseTagRequest(" lecture ;video! ");
 * if (r.tags.join() !== "lecture,video" || !r.required) throw new Error();
 * ```
 */
export function parseTagRequest(value: string | undefined): TagRequest {
  if (value === undefined) return { tags: [], required: false };
  let v = value.trim();
  const required = v.endsWith("!");
  if (required) v = v.slice(0, -1);
  const tags = v.split(";").map((t) => t.trim()).filter((t) => t !== "");
  return { tags, required: required && tags.length > 0 };
}

/**
 * Whether a server matches a request's tags: one of its own tags or of its implicit ones (`bbb-3`, `bbb-3.0`
 * from its BBB version) is wanted, or `none` is wanted and it has no tags of its own.
 */
function matches(
  serverTags: readonly string[],
  implicit: readonly string[],
  wanted: readonly string[],
): boolean {
  if (serverTags.length === 0 && wanted.includes("none")) return true;
  return serverTags.some((t) => wanted.includes(t)) || implicit.some((t) => wanted.includes(t));
}

/**
 * The servers a tagged create may use, from servers already ranked best first: those carrying a wanted tag; if
 * none (or no tag was asked for), the untagged ones — unless the tags were required, then none. Front-ends that
 * know nothing about tags therefore never land on tagged servers. Implicit tags (`implicitTags`, e.g. the
 * `bbb-3` and `bbb-3.0` of a server's BBB version) can be asked for like tags, but never make a server
 * "tagged": a server with only implicit tags still takes untagged creates.
 *
 * @param implicitTags a server's implicit tags @default none
 * @returns the usable servers, best first, and whether a required tag found no server
 */
export function filterByTags<T extends { tags?: readonly string[] }>(
  ranked: readonly T[],
  request: TagRequest,
  implicitTags: (server: T) => readonly string[] = () => [],
): { servers: T[]; unavailable: boolean } {
  if (request.tags.length > 0) {
    const tagged = ranked.filter((s) => matches(s.tags ?? [], implicitTags(s), request.tags));
    if (tagged.length > 0) return { servers: tagged, unavailable: false };
    if (request.required) return { servers: [], unavailable: true };
  }
  return { servers: ranked.filter((s) => (s.tags ?? []).length === 0), unavailable: false };
}

/** The name of the tag parameter (BBB lower-cases meta names, so it is matched without case). */
const TAG_PARAM = "meta_server-tag";

/** The `meta_server-tag` value among create parameters, or `undefined`. */
export function tagParamOf(params: readonly [string, string][]): string | undefined {
  return params.find(([n]) => n.toLowerCase() === TAG_PARAM)?.[1];
}

/**
 * The create parameters as sent to the chosen server: `meta_server-tag` becomes that server's tags (so BBB
 * records the real tag, which recordings then carry), or is removed for an untagged server (Scalelite does the
 * same).
 */
export function withServerTags(params: [string, string][], serverTags: readonly string[] | undefined) {
  const rest = params.filter(([n]) => n.toLowerCase() !== TAG_PARAM);
  return serverTags && serverTags.length > 0
    ? [...rest, [TAG_PARAM, serverTags.join(";")] as [string, string]]
    : rest;
}
