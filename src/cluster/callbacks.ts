/**
 * Callbacks that BBB servers send toward front-ends go through a relay of bbblb's: at create, the callback URLs in
 * the meta parameters are replaced with signed relay links; the relay checks what arrives against the node's
 * secret and passes it on re-signed with the secret the front-end knows.
 *
 * Sources: shared/reference/bbb-api.md §2 (meta callbacks), scalelite.md §4.4 (Scalelite's relay).
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Params } from "../bbb/query.ts";

/** The callbacks bbblb relays. */
export type CallbackKind = "recording-ready" | "analytics" | "end";

/**
 * The meta parameters that carry callback URLs, by lower-cased name (BBB lower-cases meta names), and the kind of
 * callback each is. Scalelite also accepts the `bn-` and `canvas-` spellings of the recording-ready URL.
 */
const CALLBACK_PARAMS: Record<string, CallbackKind> = {
  "meta_bbb-recording-ready-url": "recording-ready",
  "meta_bn-recording-ready-url": "recording-ready",
  "meta_canvas-recording-ready-url": "recording-ready",
  "meta_analytics-callback-url": "analytics",
  "meta_endcallbackurl": "end",
};

/** The kind of callback a create parameter carries, or `undefined`. */
export function callbackKindOf(name: string): CallbackKind | undefined {
  const key = name.toLowerCase();
  // Own names only: a parameter named `constructor` must not find Object's.
  return Object.hasOwn(CALLBACK_PARAMS, key) ? CALLBACK_PARAMS[key] : undefined;
}

function signature(linkKey: Uint8Array, kind: CallbackKind, historyId: string, name: string): string {
  return createHmac("sha256", linkKey).update(`callback:${kind}:${historyId}:${name}`).digest("hex").slice(
    0,
    32,
  );
}

/**
 * The relay link replacing a callback URL: `BASE/bigbluebutton/callback/<kind>/<historyId>/<param>/<sig>`. The
 * parameter name says which stored URL it stands for; the signature makes the link unforgeable, so the relay can
 * only ever call URLs a front-end gave in a signed create.
 */
export function relayUrl(
  publicUrl: string,
  linkKey: Uint8Array,
  kind: CallbackKind,
  historyId: string,
  name: string,
): string {
  const sig = signature(linkKey, kind, historyId, name);
  return `${publicUrl}/bigbluebutton/callback/${kind}/${encodeURIComponent(historyId)}/${
    encodeURIComponent(name)
  }/${sig}`;
}

/** Whether a relay link's signature is right (constant time). */
export function verifyRelay(
  linkKey: Uint8Array,
  kind: CallbackKind,
  historyId: string,
  name: string,
  sig: string,
): boolean {
  const expected = new TextEncoder().encode(signature(linkKey, kind, historyId, name));
  const given = new TextEncoder().encode(sig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Replace every callback URL among the create parameters with its relay link. */
export function relayCallbacks(
  params: Params,
  links: { publicUrl: string; linkKey: Uint8Array; historyId: string },
): Params {
  return params.map(([name, value]) => {
    const kind = callbackKindOf(name);
    if (!kind || value.trim() === "") return [name, value];
    return [name, relayUrl(links.publicUrl, links.linkKey, kind, links.historyId, name)];
  });
}
