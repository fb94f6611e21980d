/**
 * Bots in meetings (BBB 3.0 join parameter `bot`, PR #21480): a join with `bot=true` passes a tenant's
 * participant limit, and attendees a server marks as bots are not counted as participants. BBB issue #21463 asked
 * that bots be flagged in attendee lists; which release marks them, and how, is unverified: bbblb counts an
 * `<attendee>` with a `<bot>true</bot>` (or `<isBot>true</isBot>`) child as a bot, and a server that marks none
 * has all its attendees counted. Pure functions.
 *
 * @module
 */
import { get, type Params } from "../bbb/query.ts";

/**
 * Whether a join is a bot's: `bot` read as BBB reads booleans (Java `Boolean.parseBoolean`: `true` in any case).
 *
 * @example
 * ```ts
 * import { isBotJoin } from "./bots.ts";
 * if (!isBotJoin([["bot", "TRUE"]]) || isBotJoin([["bot", "yes"]])) throw new Error();
 * ```
 */
export function isBotJoin(params: Params): boolean {
  return get(params, "bot")?.trim().toLowerCase() === "true";
}

/**
 * How many attendees of a meeting's `<attendees>` XML (as the server listed it) are marked as bots.
 *
 * @example
 * ```ts
 * import { countBots } from "./bots.ts";
 * const xml = "<attendee><bot>true</bot></attendee><attendee><bot>false</bot></attendee>";
 * if (countBots(xml) !== 1) throw new Error();
 * ```
 */
export function countBots(attendees: unknown): number {
  if (typeof attendees !== "string") return 0;
  return attendees.match(/<(bot|isBot)>\s*true\s*<\/\1>/gi)?.length ?? 0;
}
