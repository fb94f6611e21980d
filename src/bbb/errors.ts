/**
 * The one typed error of the BBB API: thrown anywhere, rendered once as BBB's FAILED XML by the API app.
 *
 * @module
 */

/**
 * A BBB API failure: HTTP 200 with `<returncode>FAILED</returncode>`, `messageKey` and `message`.
 *
 * The keys bbblb answers itself are listed in DESIGN.md §7; BBB's own keys pass through unchanged.
 *
 * @example
 * ```ts
 * import { BbbError } from "./errors.ts";
 * const e = new BbbError("notFound", "We could not find a meeting with that meeting ID");
 * if (e.messageKey !== "notFound") throw new Error();
 * ```
 */
export class BbbError extends Error {
  /** BBB's stable error key, e.g. `checksumError`. */
  readonly messageKey: string;

  /**
   * @param messageKey the stable key clients branch on
   * @param message a sentence a person can act on
   */
  constructor(messageKey: string, message: string) {
    super(message);
    this.name = "BbbError";
    this.messageKey = messageKey;
  }
}

/** BBB's wording for a missing meetingID (bbb-web `MeetingIDConstraint`). */
export function missingMeetingID(): BbbError {
  return new BbbError("missingParamMeetingID", "You must specify a meeting ID for the meeting.");
}

/** BBB's wording for an unknown meeting on calls that act on a running meeting (end, join). */
export function meetingNotFound(): BbbError {
  return new BbbError(
    "notFound",
    "We could not find a meeting with that meeting ID - perhaps the meeting is not yet running?",
  );
}
