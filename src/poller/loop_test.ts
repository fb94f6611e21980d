import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { claimMeeting, getMeeting } from "../store/meetings.ts";
import { addServer, listServers } from "../store/servers.ts";
import { runChores, runPoller } from "./loop.ts";
import { clusterContext } from "../cluster/context.ts";
import { settleClaim } from "../cluster/lifecycle.ts";
import { FakeBbb } from "../../tests/fake_bbb.ts";
import type { RoundReport } from "./round.ts";

Deno.test("runPoller() runs rounds until aborted, and only the lease holder polls", async () => {
  using kv = await Deno.openKv(":memory:");
  const stop = new AbortController();
  const rounds: Record<string, RoundReport[]> = { a: [], b: [] };
  const common = {
    kv,
    log: silentLogger,
    intervalMs: 20,
    backendTimeoutMs: 100,
    failThreshold: 2,
    recoverThreshold: 2,
    signal: stop.signal,
  };
  const a = runPoller({ ...common, owner: "a", onRound: (r) => rounds.a.push(r) });
  const b = runPoller({ ...common, owner: "b", onRound: (r) => rounds.b.push(r) });
  const deadline = Date.now() + 10_000;
  while (rounds.a.length + rounds.b.length < 5 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  stop.abort();
  await Promise.all([a, b]);
  assert.ok(rounds.a.length + rounds.b.length >= 5);
  assert.ok(
    rounds.a.length === 0 || rounds.b.length === 0,
    `both polled: ${rounds.a.length}, ${rounds.b.length}`,
  );
});

Deno.test("runChores() settles claims left in flight by asking their server; a silent server keeps them", async () => {
  using kv = await Deno.openKv(":memory:");
  const fake = await FakeBbb.start();
  try {
    await addServer(kv, {
      id: 1,
      apiUrl: fake.apiUrl,
      secret: fake.secret,
      weight: 1,
      state: "enabled",
      checksum: "sha1",
      addedAt: 0,
    });
    const [s] = await listServers(kv);
    await claimMeeting(kv, {
      tenant: "",
      meetingID: "stuck",
      serverId: 1,
      loadMilli: 1000,
      loadEntry: { value: s.loadMilli, versionstamp: s.loadVersionstamp },
      now: 0,
    });
    const ctx = clusterContext({
      kv,
      log: silentLogger,
      publicUrl: "http://lb.test",
      linkKey: new Uint8Array(32),
      backendTimeoutMs: 500,
    });
    const chores = (now: number) =>
      runChores({ kv, log: silentLogger, staleClaimMs: 30_000, now, settle: (c) => settleClaim(ctx, c) });
    assert.deepEqual(await chores(10_000), { staleClaims: 0 }, "a fresh claim is its request's business");
    fake.mode = "hang";
    assert.deepEqual(
      await chores(40_000),
      { staleClaims: 0 },
      "a server that does not answer keeps the claim",
    );
    assert.equal((await getMeeting(kv, "", "stuck")).value?.status, "creating");
    fake.mode = "ok";
    assert.deepEqual(await chores(40_000), { staleClaims: 1 });
    assert.equal((await getMeeting(kv, "", "stuck")).value, null);
    assert.equal((await listServers(kv))[0].loadMilli, 0);
  } finally {
    await fake.close();
  }
});
