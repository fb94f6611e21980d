/**
 * Server choice for new meetings: pure functions over a snapshot of servers and their loads.
 * {@linkcode decidePlacement} is where every placement is decided.
 *
 * @module
 */
import { filterByTags, type TagRequest } from "./tags.ts";

/** What placement needs to know about a server. */
export interface Candidate {
  id: number;
  /** Relative capacity (> 0). */
  weight: number;
  /** The admin's state; only `enabled` servers take new meetings. */
  state: string;
  /** Whether the server may take meetings as far as health goes (online, no failure since its last good poll). */
  placeable: boolean;
  /** Sum of the declared load of its meetings (any unit, compared only with each other). */
  loadMilli: number;
  /** Live load above the declared load, in the same unit (from the poller). @default 0 */
  extraMilli?: number;
  /** The server has reached its meeting cap: it takes no new meeting. @default false */
  full?: boolean;
  /** The BBB version it runs (`"3.0.34"`, `"4.0.0-beta.5"`), or `null`/absent when unknown. */
  bbbVersion?: string | null;
}

/** A BBB version's major and minor number. */
export interface BbbVersion {
  major: number;
  minor: number;
}

/**
 * The major and minor number of a BBB version as servers reveal it (`bbbVersion` of the API root, e.g.
 * `3.0.34` or `4.0.0-beta.5`) or an operator gives it (`3.0`); `null` for anything else (empty: not revealed).
 *
 * @example
 * ```ts
 * import { parseBbbVersion } from "./placement.ts";
 * if (parseBbbVersion("4.0.0-beta.5")?.major !== 4) throw new Error();
 * if (parseBbbVersion("") !== null) throw new Error();
 * ```
 */
export function parseBbbVersion(value: string | null | undefined): BbbVersion | null {
  const m = /^v?(\d{1,3})\.(\d{1,3})(?:[.\-+~][0-9A-Za-z.\-+~]*)?$/.exec((value ?? "").trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

/**
 * A server's implicit tags: `bbb-<major>` and `bbb-<major>.<minor>` of its known BBB version, none when it is
 * unknown. A create may ask for them in `meta_server-tag` like tags; they never make a server "tagged".
 *
 * @example
 * ```ts
 * import { versionTags } from "./placement.ts";
 * if (versionTags({ bbbVersion: "3.0.34" }).join() !== "bbb-3,bbb-3.0") throw new Error();
 * ```
 */
export function versionTags(server: { bbbVersion?: string | null }): string[] {
  const v = parseBbbVersion(server.bbbVersion);
  return v ? [`bbb-${v.major}`, `bbb-${v.major}.${v.minor}`] : [];
}

/**
 * The servers that may take a new meeting, best first: enabled, placeable, not full and not in `exclude`, ordered by
 * (declared load + live extra load) divided by weight, lowest first. A meeting weighs the larger of its declared
 * load and its live participants + video streams, so a 300-person lecture declared with load 1 weighs what it
 * costs. Servers with equal scores are shuffled, so a burst of creates that all see the same loads does not pile
 * onto one server.
 *
 * @param random a source of numbers in [0, 1), for tests
 * @example
 * ```ts
 * import { rankServers } from "./placement.ts";
 * const ranked = rankServers([
 *   { id: 1, weight: 1, state: "enabled", placeable: true, loadMilli: 3000 },
 *   { id: 2, weight: 2, state: "enabled", placeable: true, loadMilli: 4000 },
 *   { id: 3, weight: 1, state: "disabled", placeable: true, loadMilli: 0 },
 * ]);
 * if (ranked.map((s) => s.id).join() !== "2,1") throw new Error();
 * ```
 */
export function rankServers<T extends Candidate>(
  servers: readonly T[],
  exclude: ReadonlySet<number> = new Set(),
  random: () => number = Math.random,
): T[] {
  return servers
    .filter((s) => s.state === "enabled" && s.placeable && !s.full && s.weight > 0 && !exclude.has(s.id))
    .map((s) => ({ s, score: (s.loadMilli + (s.extraMilli ?? 0)) / s.weight, tie: random() }))
    .sort((a, b) => a.score - b.score || a.tie - b.tie)
    .map(({ s }) => s);
}

/** What {@linkcode decidePlacement} needs besides the servers. */
export interface PlacementRequest {
  /** The create's `meta_server-tag`, parsed. */
  tags: TagRequest;
  /** Servers that must not get the meeting: those that failed for this request, and a moved meeting's own. */
  exclude: ReadonlySet<number>;
  /** How many servers already failed this request. */
  failures: number;
  /** After this many failures the answer is `serverUnavailable`. @default {@linkcode MAX_SERVERS_PER_CREATE} */
  maxFailures?: number;
  /**
   * A moved or failed-over meeting's BBB major version (that of the server it ran on): servers of that major, or
   * of unknown version, are preferred; only when none of them can take it does another major. @default none
   */
  major?: number | null;
}

/** At most this many servers are tried for one new meeting (or one move) before the answer is `serverUnavailable`. */
export const MAX_SERVERS_PER_CREATE = 3;

/** Why no server gets the meeting, with bbblb's messageKey (DESIGN §7) and a sentence for the front-end. */
export interface Refusal {
  messageKey: "limitExceeded" | "serverTagUnavailable" | "serverUnavailable";
  message: string;
}

/** The outcome of {@linkcode decidePlacement}: the server to use, or why there is none. */
export type PlacementDecision<T> = { server: T; refusal?: undefined } | {
  server?: undefined;
  refusal: Refusal;
};

/**
 * Where a new meeting goes — the one place this is decided, for create, move, failover and panic alike:
 * 1. the servers {@linkcode rankServers} allows (enabled, placeable, under their cap, not excluded), best first;
 * 2. narrowed by the server tags (`filterByTags`, Scalelite's rules, with the implicit tags of
 *    {@linkcode versionTags}); a required tag no such server carries is `serverTagUnavailable` (Scalelite's key
 *    and words);
 * 2a. for a move or failover (`major`), narrowed to servers of the same BBB major version or of unknown
 *    version, when any is left;
 * 3. none left: `limitExceeded` when caps alone keep every otherwise usable server out and nothing failed yet,
 *    else `serverUnavailable`;
 * 4. `serverUnavailable` too once `maxFailures` servers failed this request;
 * 5. otherwise the best one.
 *
 * @param random a source of numbers in [0, 1) for ties, for tests
 * @example
 * ```ts
 * import { decidePlacement } from "./placement.ts";
 * const d = decidePlacement(
 *   [{ id: 1, weight: 1, state: "enabled", placeable: true, loadMilli: 0, full: true }],
 *   { tags: { tags: [], required: false }, exclude: new Set(), failures: 0 },
 * );
 * if (d.refusal?.messageKey !== "limitExceeded") throw new Error();
 * ```
 */
export function decidePlacement<T extends Candidate & { tags?: readonly string[] }>(
  servers: readonly T[],
  request: PlacementRequest,
  random: () => number = Math.random,
): PlacementDecision<T> {
  const { servers: matching, unavailable } = filterByTags(
    rankServers(servers, request.exclude, random),
    request.tags,
    versionTags,
  );
  const ranked = preferMajor(matching, request.major);
  if (unavailable) {
    return {
      refusal: {
        messageKey: "serverTagUnavailable",
        message: `There is no available server with the required tag=${request.tags.tags.join(";")}.`,
      },
    };
  }
  if (ranked.length === 0 && request.failures === 0) {
    const uncapped = servers.map((s) => ({ ...s, full: false }));
    const capped =
      filterByTags(rankServers(uncapped, request.exclude, random), request.tags, versionTags).servers;
    if (capped.length > 0) {
      return {
        refusal: {
          messageKey: "limitExceeded",
          message:
            `All ${capped.length} BBB server(s) that could take the meeting have reached their meeting cap; ` +
            "try again when a meeting has ended.",
        },
      };
    }
  }
  if (ranked.length === 0 || request.failures >= (request.maxFailures ?? MAX_SERVERS_PER_CREATE)) {
    return {
      refusal: {
        messageKey: "serverUnavailable",
        message: request.failures > 0
          ? "No BBB server could create the meeting; the servers tried did not answer."
          : "No BBB server can take a new meeting right now (none is enabled and online).",
      },
    };
  }
  return { server: ranked[0] };
}

/** The servers of BBB major `major` or of unknown version, if any; else all of them (order kept). */
function preferMajor<T extends Candidate>(ranked: T[], major: number | null | undefined): T[] {
  if (major == null) return ranked;
  const same = ranked.filter((s) => {
    const v = parseBbbVersion(s.bbbVersion);
    return v === null || v.major === major;
  });
  return same.length > 0 ? same : ranked;
}
