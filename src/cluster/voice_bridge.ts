/**
 * Dial-in PINs (BBB's `voiceBridge`): the rules that keep every PIN unique across the cluster, so one phone
 * gateway can route a caller by PIN alone (see `api/fsapi.ts`).
 *
 * - **The echo test.** `99999` is FreeSWITCH's echo-test conference on every BBB server (bbb-web's
 *   `testVoiceBridge`): a meeting given it breaks, so a create naming it is refused with `validationError`, and
 *   bbblb never allocates it.
 * - **Breakout rooms.** BBB numbers a meeting's breakout rooms parent PIN + sequence (rooms 1 to 16, so one or
 *   two more digits: parent `12345`, rooms `123451` … `1234516`). A PIN is *related* to another when one is such
 *   a breakout PIN of the other; a claim reserves its PIN only when neither the PIN nor a related one is held
 *   (see {@linkcode relatedPins}), so a client-chosen PIN never equals another meeting's breakout PIN.
 * - **Allocation.** Without a client PIN, bbblb allocates a random one of `--voice-bridge-digits` digits (no
 *   leading zero), as Scalelite allocates up to 9 (`VOICE_BRIDGE_LEN`, `app/models/meeting.rb`).
 * - **Adopted meetings.** A meeting created directly on a server keeps the PIN that server gave it; the poller
 *   reserves it ({@linkcode reconcileVoiceBridges}). Two running meetings with one PIN (BBB keeps PINs unique per
 *   server only) are logged, and their PIN is marked shared: the gateway routes no caller with it.
 *
 * @module
 */
import { BbbError } from "../bbb/errors.ts";
import type { Logger } from "../log.ts";
import { getMeeting, listAllMeetings, type MeetingRecord } from "../store/meetings.ts";
import {
  getVoiceBridge,
  listVoiceBridges,
  markVoiceBridges,
  type VoiceBridgeChange,
  voiceBridgesHeld,
} from "../store/voice_bridges.ts";

/** FreeSWITCH's echo-test conference on every BBB server (bbb-web's `testVoiceBridge`). */
export const ECHO_TEST_PIN = "99999";

/** Default of `--voice-bridge-digits` (bbb-web's `defaultNumDigitsForTelVoice`). */
export const DEFAULT_VOICE_BRIDGE_DIGITS = 5;

/** The highest breakout room sequence number BBB gives (rooms 1 to 16). */
export const MAX_BREAKOUT_ROOMS = 16;

/**
 * A client's voiceBridge as bbb-web reads it (control characters stripped, trimmed), so `" 54321"` cannot dodge
 * the reservation of `54321`; `undefined` when absent or empty.
 */
export function normalizeVoiceBridge(raw: string | undefined): string | undefined {
  // deno-lint-ignore no-control-regex
  return raw?.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").trim() || undefined;
}

/**
 * Check a client-chosen PIN before anything is claimed.
 *
 * @throws {BbbError} `validationError` for {@linkcode ECHO_TEST_PIN}
 */
export function checkGivenVoiceBridge(pin: string): void {
  if (pin === ECHO_TEST_PIN) {
    throw new BbbError(
      "validationError",
      "voiceBridge 99999 is FreeSWITCH's echo test on every BBB server and cannot be a meeting's dial-in PIN; " +
        "leave voiceBridge out and bbblb allocates a unique one.",
    );
  }
}

/** The breakout room PINs of a meeting with PIN `pin` (parent PIN + 1 … 16). */
export function breakoutPins(pin: string): string[] {
  return Array.from({ length: MAX_BREAKOUT_ROOMS }, (_, i) => `${pin}${i + 1}`);
}

/**
 * The PINs of which `pin` would be a breakout room's PIN: without its last digit when that is 1 to 9, without
 * its last two when they are 10 to 16. Only for all-digit PINs; the parent keeps at least one digit.
 */
export function parentPins(pin: string): string[] {
  if (!/^\d+$/.test(pin)) return [];
  const out: string[] = [];
  if (pin.length >= 2 && pin.at(-1) !== "0") out.push(pin.slice(0, -1));
  const two = Number(pin.slice(-2));
  if (pin.length >= 3 && pin.at(-2) !== "0" && two >= 10 && two <= MAX_BREAKOUT_ROOMS) {
    out.push(pin.slice(0, -2));
  }
  return out;
}

/**
 * The PINs that must be free (besides `pin` itself) for a meeting to take `pin`: its breakout rooms' PINs, and
 * the PINs whose breakout rooms would have `pin` (18 at most).
 */
export function relatedPins(pin: string): string[] {
  return /^\d+$/.test(pin) ? [...parentPins(pin), ...breakoutPins(pin)] : [];
}

/**
 * A random PIN of `digits` digits, the first not 0 (clients that read the PIN as a number would lose it), never
 * {@linkcode ECHO_TEST_PIN}.
 */
export function randomVoiceBridge(digits: number = DEFAULT_VOICE_BRIDGE_DIGITS): string {
  for (;;) {
    const r = crypto.getRandomValues(new Uint32Array(digits));
    const pin = Array.from(r, (v, i) => i === 0 ? 1 + v % 9 : v % 10).join("");
    if (pin !== ECHO_TEST_PIN) return pin;
  }
}

/** Tries of {@linkcode allocateVoiceBridge} before it gives up (bbb-web tries 10 times too). */
const ALLOCATION_TRIES = 10;

/**
 * A random PIN that neither another meeting nor a related PIN (breakout rooms) holds as the store reads now. The
 * claim checks again, atomically: a PIN taken between the two makes it fail and the create retry.
 *
 * @throws {BbbError} `serverUnavailable` when 10 random PINs were all taken (raise `--voice-bridge-digits`)
 */
export async function allocateVoiceBridge(kv: Deno.Kv, digits: number): Promise<string> {
  for (let i = 0; i < ALLOCATION_TRIES; i++) {
    const pin = randomVoiceBridge(digits);
    if (!(await voiceBridgesHeld(kv, [pin, ...relatedPins(pin)]))) return pin;
  }
  throw new BbbError(
    "serverUnavailable",
    `No free ${digits}-digit dial-in PIN was found in ${ALLOCATION_TRIES} tries; the operator should raise ` +
      "--voice-bridge-digits.",
  );
}

/**
 * Whether a create for `(tenant, meetingID)` with the client PIN `pin` must be refused because another meeting
 * holds that PIN or a related one (its breakout rooms, or a meeting whose breakout rooms would have it).
 */
export async function voiceBridgeTaken(
  kv: Deno.Kv,
  pin: string,
  owner: { tenant: string; meetingID: string },
): Promise<boolean> {
  const held = await voiceBridgesHeld(kv, [pin, ...relatedPins(pin)]);
  return held !== null && (held.tenant !== owner.tenant || held.meetingID !== owner.meetingID);
}

/** What one {@linkcode reconcileVoiceBridges} pass changed. */
export interface VoiceBridgeRepair {
  /** PINs of meetings that held none (adopted meetings) now reserved. */
  reserved: number;
  /** PINs found held by two or more running meetings (now not routable). */
  shared: string[];
  /** Reservations whose meeting was gone or had another PIN, removed. */
  released: number;
}

/**
 * Make the reservations agree with the meetings (run by the poller after each round): every meeting's PIN is
 * reserved for it (adopted meetings got theirs from their server), a PIN two running meetings share is marked
 * shared and logged once, a shared mark whose PIN one meeting holds again is cleared, and a reservation whose
 * meeting is gone is removed. Every write checks the reservation is unchanged since it was read, so a claim made
 * meanwhile wins.
 */
export async function reconcileVoiceBridges(kv: Deno.Kv, log: Logger): Promise<VoiceBridgeRepair> {
  // Reservations first, then meetings: a claim commits both together, so a reservation read here whose meeting is
  // missing below was released meanwhile (and the write below fails its check).
  const reservations = await listVoiceBridges(kv);
  const meetings = await listAllMeetings(kv);
  const byPin = Map.groupBy(meetings.filter((e) => e.value.voiceBridge), (e) => e.value.voiceBridge!);
  const out: VoiceBridgeRepair = { reserved: 0, shared: [], released: 0 };
  const changes: VoiceBridgeChange[] = [];
  for (const [pin, holders] of byPin) {
    const r = reservations.get(pin);
    const shared = holders.length > 1;
    const holder = r && holders.find((h) => same(h.value, r.value));
    if (!r) {
      changes.push({
        pin,
        versionstamp: null,
        value: { ...owner(holders[0].value), ...(shared ? { shared } : {}) },
      });
      out.reserved++;
    } else if (!holder) {
      changes.push({
        pin,
        versionstamp: r.versionstamp,
        value: { ...owner(holders[0].value), ...(shared ? { shared } : {}) },
      });
    } else if (shared !== (r.value.shared === true)) {
      changes.push({
        pin,
        versionstamp: r.versionstamp,
        value: { ...owner(holder.value), ...(shared ? { shared } : {}) },
      });
    } else continue;
    if (shared && r?.value.shared !== true) {
      out.shared.push(pin);
      log.warn("dial-in PIN shared by meetings on different servers: calls with it are not routed", {
        pin,
        meetings: holders.map((h) => h.value.meetingID).join(","),
        servers: holders.map((h) => h.value.serverId).join(","),
      });
    }
  }
  for (const [pin, r] of reservations) {
    if (byPin.has(pin)) continue;
    changes.push({ pin, versionstamp: r.versionstamp, value: null });
    out.released++;
  }
  await markVoiceBridges(kv, changes);
  return out;
}

function owner(m: MeetingRecord) {
  return { tenant: m.tenant, meetingID: m.meetingID };
}

function same(m: MeetingRecord, r: { tenant: string; meetingID: string }): boolean {
  return m.tenant === r.tenant && m.meetingID === r.meetingID;
}

/** Where a dialled PIN goes: the running meeting holding it, or for a breakout room's PIN, its parent meeting. */
export interface PinRoute {
  /** The meeting whose server has the conference (a breakout room runs on its parent's server). */
  meeting: MeetingRecord;
  /** The PIN is a breakout room's (parent PIN + room number). */
  breakout: boolean;
}

/**
 * Find the meeting a dialled PIN belongs to: the running meeting that holds it, else (a breakout room) the
 * running meeting holding one of its {@linkcode parentPins}, as Scalelite's `FsapiController` falls back to the
 * PIN without its last digit. A PIN marked shared, or held by a meeting still being created, routes nowhere.
 *
 * @returns `null` when no running meeting takes the PIN
 */
export async function routeVoiceBridge(kv: Deno.Kv, pin: string): Promise<PinRoute | null> {
  if (!/^\d{1,32}$/.test(pin)) return null;
  const candidates: [string, boolean][] = [
    [pin, false],
    ...parentPins(pin).map((p): [string, boolean] => [p, true]),
  ];
  for (const [candidate, breakout] of candidates) {
    const r = (await getVoiceBridge(kv, candidate)).value;
    if (!r) continue;
    if (r.shared) return null;
    const m = (await getMeeting(kv, r.tenant, r.meetingID)).value;
    if (m?.status === "running" && m.voiceBridge === candidate) return { meeting: m, breakout };
  }
  return null;
}
