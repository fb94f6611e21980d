/**
 * Tests of hook registration on the BBB servers' webhooks modules, against fake BBB servers: what a server is
 * asked to call (a signed relay link, never the front-end's URL), what is recorded, and that a server that
 * refuses or cannot be reached is a `false`, never an exception. Also the relay link's signature and the checksum
 * bbb-webhooks puts on its callbacks.
 *
 * @module
 */
import assert from "node:assert/strict";
import { setup } from "../../tests/harness.ts";
import { createLogger } from "../log.ts";
import { addHook, getHook, type HookRecord } from "../store/hooks.ts";
import { getServer, type ServerRecord, updateServer } from "../store/servers.ts";
import { hookChecksum, hookRelayUrl, registerHook, unregisterHook, verifyHookRelay } from "./hooks.ts";

const KEY = new Uint8Array(32).fill(5);

Deno.test("a hook relay link verifies for its hook with its key, and not tampered, for another hook or key", () => {
  const link = hookRelayUrl("https://bbblb.example.org", KEY, "12");
  const match = link.match(
    /^https:\/\/bbblb\.example\.org\/bigbluebutton\/callback\/hook\/12\/([0-9a-f]{32})$/,
  );
  assert.ok(match, link);
  const sig = match[1];
  assert.equal(verifyHookRelay(KEY, "12", sig), true);
  assert.equal(verifyHookRelay(KEY, "13", sig), false);
  assert.equal(verifyHookRelay(KEY, "1", sig), false);
  assert.equal(verifyHookRelay(new Uint8Array(32).fill(6), "12", sig), false);
  assert.equal(verifyHookRelay(KEY, "12", (sig[0] === "0" ? "1" : "0") + sig.slice(1)), false);
  assert.equal(verifyHookRelay(KEY, "12", sig.slice(0, 31)), false);
  assert.equal(verifyHookRelay(KEY, "12", ""), false);
});

Deno.test("hookChecksum() is bbb-webhooks' sha(callbackURL + body + secret) in the algorithm asked for", () => {
  const args = [
    "https://lms.example.org/hook",
    "domain=bbb1&event=%5B%5D&timestamp=1",
    "shared-secret",
  ] as const;
  // Reference values computed outside bbblb (Python's hashlib).
  assert.equal(hookChecksum("sha1", ...args), "7a14210a164205de884b19599295acffd5bc4188");
  assert.equal(
    hookChecksum("sha256", ...args),
    "ac1705af199f2371f657c0a58aef79a480dd7d2f64985111c6959b3f13e19795",
  );
});

async function hookIn(kv: Deno.Kv, hook: Omit<HookRecord, "hookID" | "registrations">): Promise<HookRecord> {
  return (await addHook(kv, hook)).hook;
}

Deno.test("registerHook() registers the hook's relay link with its filters and records the server's hook id", async () => {
  await using h = await setup({ servers: 2 });
  const hook = await hookIn(h.kv, {
    callbackURL: "https://lms.example.org/hook",
    meetingID: "room-1",
    eventID: "meeting-created,user-joined",
    getRaw: true,
  });
  const server = (await getServer(h.kv, 2))!;
  assert.equal(await registerHook(h.ctx, server, hook), true);
  assert.equal(h.fakes[0].hooks.size, 0, "only the server asked for");
  const [registered] = [...h.fakes[1].hooks.values()];
  assert.equal(registered.callbackURL, hookRelayUrl(h.ctx.publicUrl, h.ctx.linkKey, hook.hookID));
  assert.equal(registered.meetingID, "room-1");
  assert.equal(registered.eventID, "meeting-created,user-joined");
  assert.equal(registered.getRaw, true);
  assert.deepEqual((await getHook(h.kv, hook.hookID))!.registrations, { "2": registered.hookID });
});

Deno.test("a global hook is registered without filters", async () => {
  await using h = await setup({ servers: 1 });
  const hook = await hookIn(h.kv, {
    callbackURL: "https://lms.example.org/all",
    meetingID: null,
    eventID: null,
    getRaw: false,
  });
  assert.equal(await registerHook(h.ctx, (await getServer(h.kv, 1))!, hook), true);
  const params = h.fakes[0].requests.find((r) => r.call === "hooks/create")!.params;
  assert.deepEqual([...params.keys()].sort(), ["callbackURL", "checksum"]);
});

Deno.test("a server that refuses or cannot be reached gets no registration: false, logged without its secret", async () => {
  const lines: string[] = [];
  await using h = await setup({ servers: 2, backendTimeoutMs: 300 });
  const ctx = { ...h.ctx, log: createLogger({ write: (line) => lines.push(line) }) };
  const hook = await hookIn(h.kv, {
    callbackURL: "https://lms.example.org/h",
    meetingID: null,
    eventID: null,
    getRaw: false,
  });
  // Server 1's secret is wrong in bbblb: its webhooks module answers checksumError.
  const wrong: ServerRecord = await updateServer(h.kv, 1, { secret: "not-the-secret" });
  assert.equal(await registerHook(ctx, wrong, hook), false);
  assert.equal(h.fakes[0].hooks.size, 0);
  await h.fakes[1].stop();
  assert.equal(await registerHook(ctx, (await getServer(h.kv, 2))!, hook), false);
  assert.deepEqual((await getHook(h.kv, hook.hookID))!.registrations, {});
  assert.equal(lines.length, 2);
  assert.match(lines[0], /hook registration refused/);
  assert.match(lines[1], /hook registration failed/);
  for (const line of lines) {
    for (const secret of ["not-the-secret", h.fakes[0].secret, h.fakes[1].secret]) {
      assert.equal(line.includes(secret), false);
    }
    assert.doesNotMatch(line, /checksum=[0-9a-f]/);
  }
});

Deno.test("unregisterHook() removes the registration from the server, and never throws when it cannot", async () => {
  await using h = await setup({ servers: 1, backendTimeoutMs: 300 });
  const hook = await hookIn(h.kv, {
    callbackURL: "https://lms.example.org/h",
    meetingID: null,
    eventID: null,
    getRaw: false,
  });
  const server = (await getServer(h.kv, 1))!;
  await registerHook(h.ctx, server, hook);
  const remoteId = (await getHook(h.kv, hook.hookID))!.registrations["1"];
  await unregisterHook(h.ctx, server, remoteId);
  assert.equal(h.fakes[0].hooks.size, 0);
  const lines: string[] = [];
  const ctx = { ...h.ctx, log: createLogger({ write: (line) => lines.push(line) }) };
  await unregisterHook(ctx, server, remoteId); // already gone: BBB's destroyMissingHook
  assert.deepEqual(lines, []);
  await h.fakes[0].stop();
  await unregisterHook(ctx, server, remoteId); // unreachable
  assert.equal(lines.length, 1);
  assert.match(lines[0], /hook removal failed server=1/);
});
