/**
 * The links and cookies bbblb hands out for `rejoin`: logout links signed with an internal key (so rotating the
 * API secret never breaks the logout links of running meetings), and sealed join cookies (AES-256-CTR with
 * HMAC-SHA256: no password is readable in them, they cannot be altered, and they expire).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  type Hash,
  timingSafeEqual,
} from "node:crypto";

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

/** The first byte of a ticket sealed with AES-256-CTR and HMAC-SHA256 (see {@linkcode sealTicket}). */
const SEALED_CTR = 2;
/** Bytes of keystream made at once: enough for ~250 join cookies. */
const KEYSTREAM_BYTES = 64 * 1024;

/**
 * The sealing state of one cookie key: two keys derived from it (encryption, authentication) and a run of AES-CTR
 * keystream made ahead. Each ticket takes the next unused blocks of the run, and the run starts at a random
 * 128-bit counter, so no keystream is ever used twice (two runs overlap with a probability of about 2^-100).
 * Making a cipher object per join cost ~15 µs, more than the rest of the seal.
 */
class Sealer {
  readonly encKey: Uint8Array;
  /** HMAC-SHA256 with the authentication key, its inner and outer hashes keyed once (RFC 2104). */
  readonly #inner: Hash;
  readonly #outer: Hash;
  #counter = new Uint8Array(16);
  #keystream = new Uint8Array(0);
  #at = 0;

  constructor(key: Uint8Array) {
    this.encKey = createHmac("sha256", key).update("bbblb join cookie: encryption").digest();
    const macKey = createHmac("sha256", key).update("bbblb join cookie: authentication").digest();
    const ipad = new Uint8Array(64).fill(0x36);
    const opad = new Uint8Array(64).fill(0x5c);
    for (let i = 0; i < macKey.length; i++) {
      ipad[i] ^= macKey[i];
      opad[i] ^= macKey[i];
    }
    this.#inner = createHash("sha256").update(ipad);
    this.#outer = createHash("sha256").update(opad);
  }

  /**
   * HMAC-SHA256 of the cookie name and the sealed bytes before the tag (a `createHmac` per join cost twice as
   * much as continuing copies of the keyed hashes).
   */
  mac(name: string, sealed: Uint8Array): Uint8Array {
    const inner = this.#inner.copy().update(name).update("\u0000").update(sealed).digest();
    return this.#outer.copy().update(inner).digest();
  }

  /** The next `length` bytes of keystream, block-aligned, and the counter block they start at. */
  take(length: number): { counter: Uint8Array; keystream: Uint8Array } {
    const blocks = Math.ceil(length / 16);
    if (this.#at + blocks * 16 > this.#keystream.length) {
      this.#counter = crypto.getRandomValues(new Uint8Array(16));
      const size = Math.max(KEYSTREAM_BYTES, blocks * 16);
      const cipher = createCipheriv("aes-256-ctr", this.encKey, this.#counter);
      this.#keystream = new Uint8Array(cipher.update(new Uint8Array(size)));
      this.#at = 0;
    }
    const counter = addBlocks(this.#counter, this.#at / 16);
    const keystream = this.#keystream.subarray(this.#at, this.#at + length);
    this.#at += blocks * 16;
    return { counter, keystream };
  }
}

const sealers = new WeakMap<Uint8Array, Sealer>();

function sealerOf(key: Uint8Array): Sealer {
  let sealer = sealers.get(key);
  if (!sealer) sealers.set(key, sealer = new Sealer(key));
  return sealer;
}

/** A 128-bit big-endian counter block plus `n` blocks (as AES-CTR counts). */
function addBlocks(counter: Uint8Array, n: number): Uint8Array {
  const out = counter.slice();
  let carry = n;
  for (let i = 15; i >= 0 && carry > 0; i--) {
    const sum = out[i] + (carry % 256);
    out[i] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
  return out;
}

const encoder = new TextEncoder();

/**
 * Seal a ticket: AES-256-CTR then HMAC-SHA256 (encrypt-then-MAC, keys derived from `key`), base64url of
 * `0x02 ‖ counter block (16) ‖ ciphertext ‖ tag (32)`; the tag covers the cookie name too, so a cookie cannot be
 * replayed under another meeting's name. No password is readable in it and it cannot be altered.
 */
export function sealTicket(key: Uint8Array, name: string, ticket: JoinTicket): string {
  const sealer = sealerOf(key);
  const plain = encoder.encode(JSON.stringify(ticket));
  const { counter, keystream } = sealer.take(plain.length);
  const out = new Uint8Array(17 + plain.length + 32);
  out[0] = SEALED_CTR;
  out.set(counter, 1);
  for (let i = 0; i < plain.length; i++) out[17 + i] = plain[i] ^ keystream[i];
  out.set(sealer.mac(name, out.subarray(0, 17 + plain.length)), 17 + plain.length);
  return Buffer.from(out.buffer, out.byteOffset, out.length).toString("base64url");
}

/**
 * Open a sealed ticket; `null` when it was tampered with, sealed for another name, or has expired. Tickets sealed
 * by earlier builds (AES-256-GCM, `iv ‖ tag ‖ ciphertext`) still open until they expire (12 h).
 */
export function openTicket(key: Uint8Array, name: string, sealed: string, now: number): JoinTicket | null {
  try {
    const raw = Buffer.from(sealed, "base64url");
    const ticket = (raw[0] === SEALED_CTR ? openCtr(key, name, raw) : null) ?? openGcm(key, name, raw);
    return ticket !== null && ticket.exp > now ? ticket : null;
  } catch {
    return null;
  }
}

function openCtr(key: Uint8Array, name: string, raw: Uint8Array): JoinTicket | null {
  if (raw.length < 17 + 32) return null;
  const sealer = sealerOf(key);
  const body = raw.subarray(0, raw.length - 32);
  if (!timingSafeEqual(sealer.mac(name, body), raw.subarray(raw.length - 32))) return null;
  const decipher = createDecipheriv("aes-256-ctr", sealer.encKey, raw.subarray(1, 17));
  const text = Buffer.concat([decipher.update(raw.subarray(17, raw.length - 32)), decipher.final()]);
  return JSON.parse(text.toString("utf8")) as JoinTicket;
}

function openGcm(key: Uint8Array, name: string, raw: Uint8Array): JoinTicket | null {
  if (raw.length < 29) return null;
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAAD(new TextEncoder().encode(name));
  decipher.setAuthTag(raw.subarray(12, 28));
  const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  return JSON.parse(text) as JoinTicket;
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
