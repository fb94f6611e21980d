/**
 * Server choice for new meetings: a pure function over a snapshot of servers and their loads.
 *
 * @module
 */

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
