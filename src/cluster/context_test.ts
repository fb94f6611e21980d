/**
 * Tests of the cluster context: the defaults every caller gets from the one factory, and `callServer`, against
 * fake BBB servers: a failed call takes the server out of placement at once (in the store, in the directory and
 * in this process's placement snapshot), counts toward offline, is logged without secrets, and a server that
 * refuses bbblb's checksum is a failure of that server, never an answer for the client.
 *
 * @module
 */
import assert from "node:assert/strict";
import { setup } from "../../tests/harness.ts";
import { BackendError } from "../bbb/client.ts";
import { BbbError } from "../bbb/errors.ts";
import { encodeQuery } from "../bbb/query.ts";
import { createLogger, silentLogger } from "../log.ts";
import { getServer, getServerWithHealth, updateServer } from "../store/servers.ts";
import {
  callServer,
  type ClusterContext,
  clusterContext,
  createTimeoutOf,
  DEFAULT_CREATE_TIMEOUT_MS,
  DEFAULT_FAILOVER_DELAY_MS,
  failoverDelayOf,
  serverUnavailable,
  voiceBridgeDigitsOf,
} from "./context.ts";
import { Directory } from "./directory.ts";
import { Placer } from "./placement_turns.ts";

Deno.test("clusterContext() fills in serve's defaults and drops trailing slashes from the public URL", async () => {
  using kv = await Deno.openKv(":memory:");
  const ctx = clusterContext({
    kv,
    log: silentLogger,
    publicUrl: "https://bbblb.example.org//",
    linkKey: new Uint8Array(32),
  });
  assert.equal(ctx.publicUrl, "https://bbblb.example.org");
  assert.equal(ctx.backendTimeoutMs, 5000);
  assert.equal(ctx.failThreshold, 2);
  assert.equal(failoverDelayOf(ctx), DEFAULT_FAILOVER_DELAY_MS);
  assert.equal(createTimeoutOf(ctx), DEFAULT_CREATE_TIMEOUT_MS);
  assert.equal(
    ctx.settleMs,
    DEFAULT_CREATE_TIMEOUT_MS + 3000,
    "a second create waits out the first one's timeout",
  );
  assert.equal(voiceBridgeDigitsOf(ctx), 5);
  assert.equal(ctx.dialNumber, undefined);
});

Deno.test("clusterContext() keeps every setting given, and the wait for a concurrent create follows the create timeout", async () => {
  using kv = await Deno.openKv(":memory:");
  const ctx = clusterContext({
    kv,
    log: silentLogger,
    publicUrl: "http://bbblb.test",
    linkKey: new Uint8Array(32),
    backendTimeoutMs: 700,
    failThreshold: 4,
    failoverDelayMs: 0,
    createTimeoutMs: 2000,
    voiceBridgeDigits: 7,
    dialNumber: "+49 30 1234",
  });
  assert.deepEqual(
    [ctx.backendTimeoutMs, ctx.failThreshold, failoverDelayOf(ctx), createTimeoutOf(ctx), ctx.settleMs],
    [700, 4, 0, 2000, 5000],
  );
  assert.equal(voiceBridgeDigitsOf(ctx), 7);
  assert.equal(ctx.dialNumber, "+49 30 1234");
  assert.equal(
    clusterContext({ kv, log: silentLogger, publicUrl: "x", linkKey: new Uint8Array(), settleMs: 10 })
      .settleMs,
    10,
  );
});

Deno.test("callServer() returns a server's answer, FAILED ones included, and leaves its health alone", async () => {
  await using h = await setup({ servers: 1 });
  const server = (await getServer(h.kv, 1))!;
  const answer = await callServer(h.ctx, server, "getMeetingInfo", encodeQuery([["meetingID", "nope"]]));
  assert.equal(answer.response.returncode, "FAILED");
  assert.equal(answer.response.messageKey, "notFound");
  const { health } = (await getServerWithHealth(h.kv, 1))!;
  assert.deepEqual([health.online, health.excluded, health.failures], [true, false, 0]);
});

/** A harness context with a directory, a placer and a logger whose lines are kept. */
async function watched(h: Awaited<ReturnType<typeof setup>>) {
  const lines: string[] = [];
  const directory = new Directory(h.kv, { serversMs: 60_000, now: () => 0 });
  const placer = new Placer({ maxAgeMs: 60_000, now: () => 0 });
  const ctx: ClusterContext = {
    ...h.ctx,
    directory,
    placer,
    log: createLogger({ write: (l) => lines.push(l) }),
  };
  // Both views are read now, so only a forget can make them see a change.
  assert.equal((await directory.server(1))!.health.excluded, false);
  assert.equal((await placer.turn(h.kv, (s) => Promise.resolve(s))).fresh, true);
  return { ctx, lines, directory, placer };
}

Deno.test("a failed call takes the server out of placement at once everywhere, and offline at the threshold", async () => {
  await using h = await setup({ servers: 1, failThreshold: 2 });
  const { ctx, lines, directory, placer } = await watched(h);
  const server = (await getServer(h.kv, 1))!;
  h.fakes[0].mode = "http500";
  const call = () => callServer(ctx, server, "getMeetings", "");
  await assert.rejects(call(), (e) => e instanceof BackendError && e.kind === "http");
  let health = (await getServerWithHealth(h.kv, 1))!.health;
  assert.deepEqual([health.online, health.excluded, health.failures], [true, true, 1]);
  assert.equal((await directory.server(1))!.health.excluded, true, "the directory read the store again");
  const snapshot = await placer.turn(h.kv, (s) => Promise.resolve(s));
  assert.equal(snapshot.fresh, true, "the placement snapshot was dropped");
  assert.equal(snapshot.servers[0].placeable, false);
  await assert.rejects(call(), BackendError);
  health = (await getServerWithHealth(h.kv, 1))!.health;
  assert.deepEqual([health.online, health.failures], [false, 2]);
  assert.equal(lines.filter((l) => / WARN server call failed server=1 call=getMeetings /.test(l)).length, 2);
  assert.equal(lines.filter((l) => / WARN server offline server=1 /.test(l)).length, 1, "said once");
});

Deno.test("a server refusing bbblb's checksum is a failure of that server that names the secret, never logged with it", async () => {
  await using h = await setup({ servers: 1 });
  const { ctx, lines } = await watched(h);
  const server = await updateServer(h.kv, 1, { secret: "wrong-secret-in-bbblb" });
  const error = await callServer(ctx, server, "getMeetings", "").catch((e) => e);
  assert.ok(error instanceof BackendError);
  assert.equal(error.kind, "invalid");
  assert.match(error.message, /refused bbblb's checksum: is its secret right\?/);
  assert.equal((await getServerWithHealth(h.kv, 1))!.health.excluded, true);
  assert.equal(lines.length, 1);
  assert.equal(lines[0].includes("wrong-secret-in-bbblb"), false);
  assert.equal(lines[0].includes(h.fakes[0].secret), false);
  assert.doesNotMatch(lines[0], /checksum=[0-9a-f]/);
});

Deno.test("callServer() gives up after the call's own timeout when one is given", async () => {
  await using h = await setup({ servers: 1, backendTimeoutMs: 60_000 });
  h.fakes[0].mode = "hang";
  const error = await callServer(h.ctx, (await getServer(h.kv, 1))!, "getMeetings", "", { timeoutMs: 100 })
    .catch((e) => e);
  assert.ok(error instanceof BackendError);
  assert.equal(error.kind, "timeout");
  assert.match(error.message, /within 100 ms/);
});

Deno.test("serverUnavailable() is Scalelite's FAILED answer for a meeting whose server cannot be reached", () => {
  const e = serverUnavailable();
  assert.ok(e instanceof BbbError);
  assert.equal(e.messageKey, "serverUnavailable");
  assert.match(e.message, /cannot be reached/);
  assert.equal(serverUnavailable("No other server.").message, "No other server.");
});
