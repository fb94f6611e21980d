import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createCipheriv, randomBytes } from "node:crypto";
import { type JoinTicket, openTicket, sealTicket } from "./links.ts";

const key = crypto.getRandomValues(new Uint8Array(32));
const ticket: JoinTicket = {
  tenant: "",
  meetingID: "room-1",
  params: [["meetingID", "room-1"], ["fullName", "Ann"], ["password", "very-secret-pw"]],
  exp: 2_000_000_000_000,
};

Deno.test("a sealed join ticket opens with its key and name, and shows no password", () => {
  const sealed = sealTicket(key, "bbblb_join_a", ticket);
  assert.deepEqual(openTicket(key, "bbblb_join_a", sealed, 0), ticket);
  assert.doesNotMatch(Buffer.from(sealed, "base64url").toString("latin1"), /very-secret-pw|fullName/);
});

Deno.test("a join ticket does not open when altered anywhere, under another name or key, or expired", () => {
  const sealed = sealTicket(key, "bbblb_join_a", ticket);
  const raw = Buffer.from(sealed, "base64url");
  for (let i = 0; i < raw.length; i++) {
    const bad = Buffer.from(raw);
    bad[i] ^= 0x01;
    assert.equal(openTicket(key, "bbblb_join_a", bad.toString("base64url"), 0), null, `byte ${i}`);
  }
  assert.equal(
    openTicket(key, "bbblb_join_a", raw.subarray(0, raw.length - 1).toString("base64url"), 0),
    null,
  );
  assert.equal(openTicket(key, "bbblb_join_b", sealed, 0), null);
  assert.equal(openTicket(crypto.getRandomValues(new Uint8Array(32)), "bbblb_join_a", sealed, 0), null);
  assert.equal(openTicket(key, "bbblb_join_a", sealed, ticket.exp), null);
  assert.equal(openTicket(key, "bbblb_join_a", "not base64 at all!", 0), null);
});

Deno.test("thousands of sealed tickets never share keystream: every one opens and no two are alike", () => {
  const seen = new Set<string>();
  // more than one run of keystream (64 KiB) is used up
  for (let i = 0; i < 1500; i++) {
    const t = { ...ticket, meetingID: `room-${i}` };
    const sealed = sealTicket(key, "bbblb_join_a", t);
    const counter = Buffer.from(sealed, "base64url").subarray(1, 17).toString("hex");
    assert.ok(!seen.has(counter), `counter reused at ${i}`);
    seen.add(counter);
    assert.deepEqual(openTicket(key, "bbblb_join_a", sealed, 0), t);
  }
  // the same ticket sealed twice looks different
  assert.notEqual(sealTicket(key, "n", ticket), sealTicket(key, "n", ticket));
});

Deno.test("a join cookie sealed by an earlier build (AES-256-GCM) still opens until it expires", () => {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(new TextEncoder().encode("bbblb_join_a"));
  const body = Buffer.concat([cipher.update(JSON.stringify(ticket), "utf8"), cipher.final()]);
  const old = Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  assert.deepEqual(openTicket(key, "bbblb_join_a", old, 0), ticket);
  assert.equal(openTicket(key, "bbblb_join_b", old, 0), null);
});
