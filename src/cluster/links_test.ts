/**
 * Tests of the links and cookies bbblb hands out for `rejoin`: a rejoin link verifies for its own instance and
 * key only, a sealed join ticket opens only unchanged, under its own name, with its key and before it expires
 * (never sharing keystream, and cookies of earlier builds still open),
 * and only http(s) URLs are ever taken as redirect targets.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createCipheriv, randomBytes } from "node:crypto";
import {
  httpUrlOrNull,
  type JoinTicket,
  openTicket,
  rejoinUrl,
  sealTicket,
  verifyRejoinLink,
} from "./links.ts";

const KEY = new Uint8Array(32).fill(7);
const OTHER_KEY = new Uint8Array(32).fill(8);

/** The meetingID and checksum parameters of a rejoin link. */
function parts(link: string): { id: string; checksum: string } {
  const url = new URL(link);
  return { id: url.searchParams.get("meetingID")!, checksum: url.searchParams.get("checksum")! };
}

Deno.test("a rejoin link points at bbblb's rejoin call and verifies for its own instance", () => {
  const historyId = "018f3a1b2c3d4e5f60718293";
  const link = rejoinUrl("https://bbblb.example.org", KEY, historyId);
  assert.ok(link.startsWith("https://bbblb.example.org/bigbluebutton/api/rejoin?meetingID="), link);
  const { id, checksum } = parts(link);
  assert.equal(id, historyId);
  assert.match(checksum, /^[0-9a-f]{64}$/);
  assert.equal(verifyRejoinLink(KEY, id, checksum), true);
  // A proxy that upper-cases the hex does not break the link.
  assert.equal(verifyRejoinLink(KEY, id, checksum.toUpperCase()), true);
});

Deno.test("an instance id with reserved characters survives the link and still verifies", () => {
  const historyId = "a&b=c d/é?";
  const { id, checksum } = parts(rejoinUrl("http://bbblb.test", KEY, historyId));
  assert.equal(id, historyId);
  assert.equal(verifyRejoinLink(KEY, id, checksum), true);
});

Deno.test("a tampered rejoin link, another instance's checksum or another key's never verifies", () => {
  const { id, checksum } = parts(rejoinUrl("http://bbblb.test", KEY, "instance-1"));
  const flipped = (checksum[0] === "0" ? "1" : "0") + checksum.slice(1);
  assert.equal(verifyRejoinLink(KEY, id, flipped), false);
  assert.equal(verifyRejoinLink(KEY, "instance-2", checksum), false);
  assert.equal(verifyRejoinLink(OTHER_KEY, id, checksum), false);
  assert.equal(verifyRejoinLink(KEY, id, checksum.slice(0, 40)), false, "a shorter checksum");
  assert.equal(verifyRejoinLink(KEY, id, `${checksum}00`), false, "a longer checksum");
  assert.equal(verifyRejoinLink(KEY, id, ""), false);
});

const TICKET: JoinTicket = {
  tenant: "law",
  meetingID: "room-1",
  params: [["fullName", "Zoë Teacher"], ["role", "MODERATOR"], ["password", "mod-pw-secret"]],
  exp: 2_000_000,
};

Deno.test("a sealed ticket opens to the same ticket under its name with its key before it expires", () => {
  const sealed = sealTicket(KEY, "bbblb_rejoin_room-1", TICKET);
  assert.match(sealed, /^[A-Za-z0-9_-]+$/, "fits in a cookie value as it is");
  assert.deepEqual(openTicket(KEY, "bbblb_rejoin_room-1", sealed, 1_999_999), TICKET);
});

Deno.test("a sealed ticket shows nothing it holds, and sealing twice gives different cookies", () => {
  const a = sealTicket(KEY, "n", TICKET);
  const b = sealTicket(KEY, "n", TICKET);
  assert.notEqual(a, b, "a fresh IV each time");
  const raw = Buffer.from(a, "base64url").toString("latin1");
  for (const word of ["mod-pw-secret", "MODERATOR", "Teacher", "room-1", "law"]) {
    assert.equal(raw.includes(word), false, word);
    assert.equal(a.includes(word), false, word);
  }
});

Deno.test("a ticket does not open once expired, under another name, with another key, or tampered with", () => {
  const sealed = sealTicket(KEY, "bbblb_rejoin_room-1", TICKET);
  assert.equal(openTicket(KEY, "bbblb_rejoin_room-1", sealed, TICKET.exp), null, "expired at exp");
  assert.equal(openTicket(KEY, "bbblb_rejoin_room-2", sealed, 0), null, "another meeting's cookie name");
  assert.equal(openTicket(OTHER_KEY, "bbblb_rejoin_room-1", sealed, 0), null);
  const raw = Buffer.from(sealed, "base64url");
  for (const at of [0, 12, 28, raw.length - 1]) { // IV, tag, first and last byte of the ciphertext
    const bad = Buffer.from(raw);
    bad[at] ^= 1;
    assert.equal(openTicket(KEY, "bbblb_rejoin_room-1", bad.toString("base64url"), 0), null, `byte ${at}`);
  }
  assert.equal(openTicket(KEY, "bbblb_rejoin_room-1", sealed.slice(0, 30), 0), null, "cut short");
  for (const junk of ["", "x", "not base64!", "A".repeat(200)]) {
    assert.equal(openTicket(KEY, "bbblb_rejoin_room-1", junk, 0), null, junk);
  }
});

Deno.test("only http and https URLs are taken as redirect targets", () => {
  assert.equal(httpUrlOrNull("https://lms.example.org/done?x=1"), "https://lms.example.org/done?x=1");
  assert.equal(httpUrlOrNull("http://lms.example.org"), "http://lms.example.org/");
  for (
    const bad of [
      "javascript:alert(1)",
      "JAVASCRIPT:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "ftp://files.example.org/",
      "//evil.example/",
      "/relative/path",
      "not a url",
      "",
      undefined,
      null,
    ]
  ) {
    assert.equal(httpUrlOrNull(bad), null, String(bad));
  }
});

Deno.test("thousands of sealed tickets never share keystream: each has its own counter and opens", () => {
  const seen = new Set<string>();
  // more than one run of keystream (64 KiB) is used up
  for (let i = 0; i < 1500; i++) {
    const t = { ...TICKET, meetingID: `room-${i}` };
    const sealed = sealTicket(KEY, "n", t);
    const counter = Buffer.from(sealed, "base64url").subarray(1, 17).toString("hex");
    assert.ok(!seen.has(counter), `counter reused at ${i}`);
    seen.add(counter);
    assert.deepEqual(openTicket(KEY, "n", sealed, 0), t);
  }
});

Deno.test("a join cookie sealed by an earlier build (AES-256-GCM) still opens until it expires", () => {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", KEY, iv);
  cipher.setAAD(new TextEncoder().encode("bbblb_rejoin_room-1"));
  const body = Buffer.concat([cipher.update(JSON.stringify(TICKET), "utf8"), cipher.final()]);
  const old = Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  assert.deepEqual(openTicket(KEY, "bbblb_rejoin_room-1", old, 0), TICKET);
  assert.equal(openTicket(KEY, "bbblb_rejoin_room-2", old, 0), null);
  assert.equal(openTicket(KEY, "bbblb_rejoin_room-1", old, TICKET.exp), null);
});
