import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { claimMeeting, getMeeting } from "../store/meetings.ts";
import { addServer, listServers } from "../store/servers.ts";
import { runChores, runPoller } from "./loop.ts";
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

Deno.test("runChores() removes claims stuck in flight and frees their load", async () => {
  using kv = await Deno.openKv(":memory:");
  await addServer(kv, {
    id: 1,
    apiUrl: "http://127.0.0.1:1/bigbluebutton/api/",
    secret: "s",
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
  assert.deepEqual(await runChores({ kv, log: silentLogger, staleClaimMs: 30_000, now: 10_000 }), {
    staleClaims: 0,
  });
  assert.deepEqual(await runChores({ kv, log: silentLogger, staleClaimMs: 30_000, now: 40_000 }), {
    staleClaims: 1,
  });
  assert.equal((await getMeeting(kv, "", "stuck")).value, null);
  assert.equal((await listServers(kv))[0].loadMilli, 0);
});
