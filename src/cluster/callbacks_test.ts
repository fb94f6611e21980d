/**
 * Tests of the callback relay links put into a create in place of the front-end's callback URLs: which meta
 * parameters are callbacks, and that a relay link verifies only for the kind, instance and parameter it was made
 * for, with the key that made it.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Params } from "../bbb/query.ts";
import { callbackKindOf, relayCallbacks, relayUrl, verifyRelay } from "./callbacks.ts";

const KEY = new Uint8Array(32).fill(3);
const OTHER_KEY = new Uint8Array(32).fill(4);
const BASE = "https://bbblb.example.org";

/** The kind, historyId, parameter name and signature of a relay link, decoded as the relay's route reads them. */
function parts(link: string): [string, string, string, string] {
  assert.ok(link.startsWith(`${BASE}/bigbluebutton/callback/`), link);
  const [kind, historyId, name, sig] = link.slice(`${BASE}/bigbluebutton/callback/`.length).split("/");
  return [kind, decodeURIComponent(historyId), decodeURIComponent(name), sig];
}

Deno.test("the recording-ready (all three spellings), analytics and end callbacks are relayed, in any case", () => {
  assert.equal(callbackKindOf("meta_bbb-recording-ready-url"), "recording-ready");
  assert.equal(callbackKindOf("meta_bn-recording-ready-url"), "recording-ready");
  assert.equal(callbackKindOf("meta_canvas-recording-ready-url"), "recording-ready");
  assert.equal(callbackKindOf("META_BBB-Recording-Ready-URL"), "recording-ready");
  assert.equal(callbackKindOf("meta_analytics-callback-url"), "analytics");
  assert.equal(callbackKindOf("meta_endCallbackUrl"), "end");
  for (
    const other of ["logoutURL", "meta_bbb-origin", "meta_endcallbackurl2", "endCallbackUrl", "toString"]
  ) {
    assert.equal(callbackKindOf(other), undefined, other);
  }
});

Deno.test("a create parameter named like a property of every object (constructor) is passed on, not relayed", () => {
  for (const name of ["constructor", "Constructor", "hasOwnProperty", "__proto__"]) {
    assert.equal(callbackKindOf(name), undefined, name);
    const links = { publicUrl: BASE, linkKey: KEY, historyId: "h-1" };
    assert.deepEqual(relayCallbacks([[name, "x"]], links), [[name, "x"]], name);
  }
});

Deno.test("a relay link verifies for the kind, instance and parameter it was made for", () => {
  const link = relayUrl(BASE, KEY, "recording-ready", "018f-instance/1", "meta_bbb-recording-ready-url");
  const [kind, historyId, name, sig] = parts(link);
  assert.deepEqual([kind, historyId, name], [
    "recording-ready",
    "018f-instance/1",
    "meta_bbb-recording-ready-url",
  ]);
  assert.equal(verifyRelay(KEY, "recording-ready", historyId, name, sig), true);
});

Deno.test("a relay link never verifies for another kind, instance, parameter or key, nor when its signature is changed", () => {
  const [, historyId, name, sig] = parts(relayUrl(BASE, KEY, "end", "instance-1", "meta_endCallbackUrl"));
  assert.equal(verifyRelay(KEY, "analytics", historyId, name, sig), false);
  assert.equal(verifyRelay(KEY, "end", "instance-2", name, sig), false);
  assert.equal(verifyRelay(KEY, "end", historyId, "meta_bbb-recording-ready-url", sig), false);
  assert.equal(verifyRelay(OTHER_KEY, "end", historyId, name, sig), false);
  const flipped = (sig[0] === "0" ? "1" : "0") + sig.slice(1);
  assert.equal(verifyRelay(KEY, "end", historyId, name, flipped), false);
  assert.equal(verifyRelay(KEY, "end", historyId, name, sig.slice(1)), false);
  assert.equal(verifyRelay(KEY, "end", historyId, name, ""), false);
});

Deno.test("relayCallbacks() replaces each callback URL with its relay link and leaves every other parameter", () => {
  const params: Params = [
    ["meetingID", "room"],
    ["meta_bbb-recording-ready-url", "https://lms.example.org/ready?course=7"],
    ["meta_endCallbackUrl", "https://lms.example.org/end"],
    ["meta_analytics-callback-url", "  "],
    ["logoutURL", "https://lms.example.org/bye"],
  ];
  const sent = relayCallbacks(params, { publicUrl: BASE, linkKey: KEY, historyId: "h-1" });
  assert.deepEqual(sent.map(([n]) => n), params.map(([n]) => n), "same parameters, same order");
  assert.deepEqual(sent[0], ["meetingID", "room"]);
  assert.deepEqual(sent[3], ["meta_analytics-callback-url", "  "], "a blank URL is not relayed");
  assert.deepEqual(sent[4], ["logoutURL", "https://lms.example.org/bye"]);
  for (const i of [1, 2]) {
    assert.doesNotMatch(sent[i][1], /lms\.example\.org/);
    const [kind, historyId, name, sig] = parts(sent[i][1]);
    assert.equal(name, params[i][0]);
    assert.equal(historyId, "h-1");
    assert.equal(verifyRelay(KEY, callbackKindOf(name)!, historyId, name, sig), true);
    assert.equal(kind, callbackKindOf(name));
  }
});
