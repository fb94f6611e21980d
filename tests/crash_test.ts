/**
 * Crash consistency: `./bbblb serve` killed with SIGKILL in the middle of a burst of 200 creates, then started
 * again on the same store. Afterwards no meetingID runs on two BBB servers, every load sum equals the declared
 * load of the meetings on its server, no claim stays in flight once the minute-level chores ran, and every
 * meeting a server runs is known to bbblb after one poll round.
 *
 * @module
 */
import assert from "node:assert/strict";
import { silentLogger } from "../src/log.ts";
import { clusterContext } from "../src/cluster/context.ts";
import { settleClaim, staleClaimMs } from "../src/cluster/lifecycle.ts";
import { runChores } from "../src/poller/loop.ts";
import { pollRound } from "../src/poller/round.ts";
import { listAllMeetings } from "../src/store/meetings.ts";
import { openStore } from "../src/store/kv.ts";
import { signedPath, startServe, storeWithFakes } from "./bbblb_process.ts";
import { FakeBbb } from "./fake_bbb.ts";
import { assertLoadsExact } from "./harness.ts";

const SECRET = "crash-test-secret-0123456789";
const BACKEND_TIMEOUT_MS = 2000;
const CREATE_TIMEOUT_MS = 2000;

Deno.test("serve killed with SIGKILL during a burst of 200 creates leaves a consistent store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-crash-" });
  const kvPath = `${dir}/bbblb.kv`;
  const fakes = await Promise.all(
    Array.from({ length: 5 }, (_, i) => FakeBbb.start({ secret: `crash-${i}` })),
  );
  try {
    (await storeWithFakes(kvPath, fakes)).close();

    const args = [
      "--backend-timeout",
      String(BACKEND_TIMEOUT_MS / 1000),
      "--create-timeout",
      String(CREATE_TIMEOUT_MS / 1000),
      "--poll-interval",
      "3600",
    ];
    const first = await startServe({ kv: kvPath, secret: SECRET, args });
    const create = (port: number, i: number, load: number) =>
      fetch(
        `http://127.0.0.1:${port}/bigbluebutton/api/${
          signedPath("create", `meetingID=burst-${i}&name=Burst+${i}&load=${load}`, SECRET)
        }`,
      ).then((r) => r.text()).catch(() => "connection lost");
    const loadOf = (i: number) => 1 + (i % 4); // declared loads 1..4, so a wrong sum shows
    // 200 creates, 20 in flight at a time; SIGKILL once 60 have been answered.
    let answered = 0;
    let next = 0;
    let killed = false;
    const killedAfter = new Promise<void>((resolve) => {
      const worker = async () => {
        while (next < 200 && !killed) {
          const i = next++;
          await create(first.port, i, loadOf(i));
          if (++answered === 60 && !killed) {
            killed = true;
            first.child.kill("SIGKILL");
            resolve();
          }
        }
      };
      Promise.all(Array.from({ length: 20 }, worker)).then(() => resolve());
    });
    await killedAfter;
    await first.finished;
    assert.ok(killed, "the process was killed mid-burst");
    {
      // The kill must have caught creates in flight, or this test would not test the crash.
      const store = await openStore(kvPath, false);
      const inFlight = (await listAllMeetings(store)).filter((m) => m.value.status === "creating").length;
      store.close();
      assert.ok(inFlight >= 1, "no create was in flight when the process was killed");
    }

    // Started again: the front-ends retry every create of the burst.
    const second = await startServe({ kv: kvPath, secret: SECRET, args });
    try {
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => create(second.port, i, loadOf(i))),
      );
      for (const a of answers) assert.match(a, /<returncode>(SUCCESS|FAILED)<\/returncode>/);
    } finally {
      await second.terminate();
    }

    // After serve stopped: once the claims are stale, a poll round tracks those the servers run, and the
    // minute-level chores (run directly, as their cron would) ask the servers about the rest and release them.
    const store = await openStore(kvPath, false);
    try {
      const later = Date.now() + staleClaimMs(CREATE_TIMEOUT_MS) + 1000;
      const placed = await listAllMeetings(store);
      for (const m of placed.filter((m) => m.value.status === "running")) {
        assert.equal(m.value.loadMilli, loadOf(Number(m.value.meetingID.slice("burst-".length))) * 1000);
      }
      const round = await pollRound({
        kv: store,
        backendTimeoutMs: BACKEND_TIMEOUT_MS,
        failThreshold: 2,
        recoverThreshold: 2,
        staleClaimMs: staleClaimMs(CREATE_TIMEOUT_MS),
        log: silentLogger,
        now: () => later,
      });
      assert.equal(round.failedServers, 0);
      assert.ok(round.claimsSettled >= 1, "the round settled the claims the kill left");
      const ctx = clusterContext({
        kv: store,
        log: silentLogger,
        publicUrl: "http://127.0.0.1",
        linkKey: new Uint8Array(32),
        backendTimeoutMs: BACKEND_TIMEOUT_MS,
      });
      await runChores({
        kv: store,
        log: silentLogger,
        staleClaimMs: staleClaimMs(CREATE_TIMEOUT_MS),
        now: later,
        settle: (claim) => settleClaim(ctx, claim),
      });
      const meetings = await listAllMeetings(store);
      assert.deepEqual(
        meetings.filter((m) => m.value.status === "creating").map((m) => m.value.meetingID),
        [],
      );
      await assertLoadsExact(store);

      // No meetingID on two servers.
      const where = new Map<string, number[]>();
      fakes.forEach((f, i) => {
        for (const id of f.meetings.keys()) where.set(id, [...(where.get(id) ?? []), i + 1]);
      });
      const twice = [...where].filter(([, on]) => on.length > 1);
      assert.deepEqual(twice, [], "a meetingID runs on two servers");

      // Every meeting bbblb knows runs where bbblb says, and every meeting a server runs is known to bbblb.
      for (const m of meetings) assert.deepEqual(where.get(m.value.meetingID), [m.value.serverId]);
      const known = new Map(meetings.map((m) => [m.value.meetingID, m.value.serverId]));
      for (const [id, on] of where) assert.equal(known.get(id), on[0], `${id} runs on server ${on[0]}`);
    } finally {
      store.close();
    }
  } finally {
    await Promise.all(fakes.map((f) => f.close()));
    await Deno.remove(dir, { recursive: true });
  }
});
