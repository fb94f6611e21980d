/**
 * Tests of the hooks created through bbblb: found by id, gone once removed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { addHook, getHook, removeHook } from "./hooks.ts";

Deno.test("a hook is found by its id until it is removed", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const { hook } = await addHook(kv, {
      callbackURL: "https://lms.example.org/hook",
      meetingID: null,
      eventID: null,
      getRaw: false,
    });
    assert.equal((await getHook(kv, hook.hookID))?.callbackURL, "https://lms.example.org/hook");
    await removeHook(kv, hook.hookID);
    assert.equal(await getHook(kv, hook.hookID), null);
  } finally {
    kv.close();
  }
});
