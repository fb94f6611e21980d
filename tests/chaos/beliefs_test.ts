/**
 * What the chaos run's front-ends believe follows bbblb's definite answers only; overlapping operations and
 * answers that do not say what happened leave the belief unknown, so rule 2 never holds bbblb to a guess.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Beliefs } from "./beliefs.ts";

Deno.test("a create makes a meeting believed running, an end ended, a refusal changes nothing", () => {
  const b = new Beliefs();
  b.done("/a", b.begin("/a"), "running");
  assert.deepEqual(b.running(), ["/a"]);
  b.done("/a", b.begin("/a"), null);
  assert.equal(b.of("/a"), "running");
  b.done("/a", b.begin("/a"), "ended");
  assert.deepEqual(b.running(), []);
});

Deno.test("two operations on one meeting that overlap leave it unknown", async () => {
  const b = new Beliefs();
  const create = b.begin("/a");
  const end = b.begin("/a");
  await new Promise((r) => setTimeout(r, 2));
  b.done("/a", end, "ended");
  b.done("/a", create, "running");
  assert.equal(b.of("/a"), "unknown");
  // one after the other again: definite
  await new Promise((r) => setTimeout(r, 2));
  b.done("/a", b.begin("/a"), "running");
  assert.equal(b.of("/a"), "running");
});

Deno.test("a meeting whose copies a restart wiped counts as ended; an unknown one stays unknown", () => {
  const b = new Beliefs();
  b.done("/a", b.begin("/a"), "running");
  b.done("/b", b.begin("/b"), "unknown");
  b.wiped("/a");
  b.wiped("/b");
  assert.equal(b.of("/a"), "ended");
  assert.equal(b.of("/b"), "unknown");
});
