/**
 * Benchmarks of one poll round against a fake fleet on loopback (issue: the poller).
 * Goals: 200 servers × 25 meetings in under 2 s on 2 cores; a round with 10 hanging servers within the backend
 * timeout plus 1 s. Run with `deno task bench`.
 *
 * @module
 */
import { silentLogger } from "../src/log.ts";
import { pollRound } from "../src/poller/round.ts";
import { addServer } from "../src/store/servers.ts";
import { FakeBbb } from "../tests/fake_bbb.ts";

const SERVERS = 200;
const MEETINGS = 25;
const TIMEOUT_MS = 2000;

const kv = await Deno.openKv(":memory:");
const fleet: FakeBbb[] = [];
for (let i = 0; i < SERVERS; i++) {
  const fake = await FakeBbb.start({ secret: `bench-secret-${i}` });
  for (let m = 0; m < MEETINGS; m++) {
    fake.addMeeting(`s${i}-m${m}`);
    fake.addParticipant(`s${i}-m${m}`, { video: m % 3 === 0 });
  }
  fleet.push(fake);
  await addServer(kv, {
    id: i,
    apiUrl: fake.apiUrl,
    secret: fake.secret,
    weight: 1,
    state: "enabled",
    checksum: "sha256",
    addedAt: 0,
  });
}
const deps = { kv, backendTimeoutMs: TIMEOUT_MS, failThreshold: 2, recoverThreshold: 2, log: silentLogger };
// The first round adopts all 5,000 meetings; the benchmark measures the steady state after it.
const first = await pollRound(deps);
console.error(`first round (adopting ${first.adopted} meetings): ${first.durationMs.toFixed(0)} ms`);

Deno.bench({
  name: `poll round, ${SERVERS} servers × ${MEETINGS} meetings (goal < 2 s)`,
  n: 5,
  warmup: 1,
  async fn() {
    const r = await pollRound(deps);
    if (r.failedServers !== 0 || r.servers !== SERVERS) throw new Error(JSON.stringify(r));
  },
});

Deno.bench({
  name: `poll round with 10 hanging servers (goal < timeout ${TIMEOUT_MS} ms + 1 s)`,
  n: 3,
  warmup: 0,
  async fn(b) {
    for (const f of fleet.slice(0, 10)) f.mode = "hang";
    b.start();
    const r = await pollRound(deps);
    b.end();
    for (const f of fleet.slice(0, 10)) f.mode = "ok";
    if (r.failedServers !== 10) throw new Error(JSON.stringify(r));
  },
});

globalThis.addEventListener("unload", () => {
  kv.close();
});
