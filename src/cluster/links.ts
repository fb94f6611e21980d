/**
 * The links and cookies bbblb hands out for `rejoin`: logout links signed with an internal key (so rotating the
 * API secret never breaks the logout links of running meetings), and sealed join cookies (AES-256-GCM: no
 * password is readable in them, and they expire).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The rejoin link put into a meeting instance's logoutURL:
 * `BASE/bigbluebutton/api/rejoin?meetingID=<historyId>&checksum=<HMAC-SHA256>`.
 */
export function rejoinUrl(publicUrl: string, linkKey: Uint8Array, historyId: string): string {
  return `${publicUrl}/bigbluebutton/api/rejoin?meetingID=${encodeURIComponent(historyId)}&checksum=${
    linkChecksum(linkKey, historyId)
  }`;
}

function linkChecksum(linkKey: Uint8Array, historyId: string): string {
  return createHmac("sha256", linkKey).update(`rejoin:${historyId}`).digest("hex");
}

/** Whether `checksum` is the link checksum of `historyId` (constant time). */
export function verifyRejoinLink(linkKey: Uint8Array, historyId: string, checksum: string): boolean {
  const expected = new TextEncoder().encode(linkChecksum(linkKey, historyId));
  const given = new TextEncoder().encode(checksum.toLowerCase());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** What a join cookie holds: enough to rebuild the join on the meeting's next server. */
export interface JoinTicket {
  tenant: string;
  meetingID: string;
  /** The join parameters as the front-end signed them, without checksum. */
  params: [string, string][];
  /** Expiry, ms since the epoch. */
  exp: number;
}

/**
 * Seal a ticket: AES-256-GCM with a random IV, base64url of `iv ‖ tag ‖ ciphertext`. The cookie name is bound in
 * as associated data, so a cookie cannot be replayed under another meeting's name.
 */
export function sealTicket(key: Uint8Array, name: string, ticket: JoinTicket): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(new TextEncoder().encode(name));
  const body = Buffer.concat([cipher.update(JSON.stringify(ticket), "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

/** Open a sealed ticket; `null` when it was tampered with, sealed for another name, or has expired. */
export function openTicket(key: Uint8Array, name: string, sealed: string, now: number): JoinTicket | null {
  try {
    const raw = Buffer.from(sealed, "base64url");
    if (raw.length < 29) return null;
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    decipher.setAAD(new TextEncoder().encode(name));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    const ticket = JSON.parse(text) as JoinTicket;
    return ticket.exp > now ? ticket : null;
  } catch {
    return null;
  }
}

/** `raw` as a URL if it is an http(s) URL, else `null`: bbblb never redirects to or calls anything else. */
export function httpUrlOrNull(raw: string | undefined | null): string | null {
  if (!raw) return null;
  try {
    const u = new URL(raw);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}
