/**
 * Tests of the per-process placement turns: one placement at a time in arrival order, a snapshot of the servers
 * kept between turns with this process's claims applied, and read again from the store when it is too old, was
 * forgotten, or has been outdated by a change to a server.
 *
 * @module
 */
import assert from "node:assert/strict";
import { claimMeeting } from "../store/meetings.ts";
import { setServerState } from "../store/servers.ts";
import { storeWithServers } from "../../tests/harness.ts";
import { Placer, readSnapshot, type ServerSnapshot } from "./placement_turns.ts";

/** Two servers; server 1 has a meeting cap, so its meetings are counted. */
function store(): Promise<Deno.Kv> {
  return storeWithServers(2, (id) => ({ maxMeetings: id === 1 ? 10 : null }));
}

const server = (s: ServerSnapshot, id: number) => s.servers.find((v) => v.id === id)!;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("placement turns run one at a time in arrival order, and a failed turn lets the next one run", async () => {
  using kv = await store();
  const placer = new Placer();
  const log: string[] = [];
  const turn = (name: string, ms: number, fail = false) =>
    placer.turn(kv, async () => {
      log.push(`start ${name}`);
      await delay(ms);
      log.push(`end ${name}`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    });
  const [a, b, c] = [turn("a", 20), turn("b", 5, true), turn("c", 0)];
  assert.equal(await a, "a");
  await assert.rejects(b, /b failed/);
  assert.equal(await c, "c");
  assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
});

Deno.test("a turn within the snapshot's age sees this process's claims without reading the store", async () => {
  using kv = await store();
  let now = 0;
  const placer = new Placer({ maxAgeMs: 1000, now: () => now });
  const first = await placer.turn(kv, (s) => Promise.resolve(s));
  assert.equal(first.fresh, true);
  assert.equal(server(first, 1).loadMilli, 0);
  assert.equal(server(first, 1).meetingCount, 0);
  placer.claimed(1, 2000, "00000000000000aa0000");
  await setServerState(kv, 2, "disabled"); // not seen until the snapshot is read again
  now = 1000;
  const second = await placer.turn(kv, (s) => Promise.resolve(s));
  assert.equal(second.fresh, false);
  assert.equal(server(second, 1).loadMilli, 2000);
  assert.equal(server(second, 1).loadVersionstamp, "00000000000000aa0000");
  assert.equal(server(second, 1).meetingCount, 1, "a capped server counts the new meeting");
  assert.equal(server(second, 2).meetingCount, null, "an uncapped server is not counted");
  assert.equal(server(second, 2).state, "enabled");
  assert.equal(second.versionstamp, first.versionstamp);
});

Deno.test("a snapshot older than maxAgeMs is read again from the store", async () => {
  using kv = await store();
  let now = 0;
  const placer = new Placer({ maxAgeMs: 1000, now: () => now });
  await placer.turn(kv, (s) => Promise.resolve(s));
  placer.claimed(1, 2000, "00000000000000aa0000");
  await setServerState(kv, 2, "disabled");
  now = 1001;
  const later = await placer.turn(kv, (s) => Promise.resolve(s));
  assert.equal(later.fresh, true);
  assert.equal(server(later, 2).state, "disabled");
  assert.equal(server(later, 1).loadMilli, 0, "what the store holds, not what the claim said");
});

Deno.test("after forget() the next turn reads the store, whatever the snapshot's age", async () => {
  using kv = await store();
  const placer = new Placer({ maxAgeMs: 60_000, now: () => 0 });
  await placer.turn(kv, (s) => Promise.resolve(s));
  await setServerState(kv, 1, "cordoned");
  placer.forget();
  const next = await placer.turn(kv, (s) => Promise.resolve(s));
  assert.equal(next.fresh, true);
  assert.equal(server(next, 1).state, "cordoned");
  assert.equal((await placer.turn(kv, (s) => Promise.resolve(s))).fresh, false);
});

Deno.test("a claim made on a snapshot read before a server changed fails; one on a new snapshot commits", async () => {
  using kv = await store();
  const old = await readSnapshot(kv);
  await setServerState(kv, 2, "cordoned");
  const current = await readSnapshot(kv);
  assert.notEqual(current.versionstamp, old.versionstamp);
  const claim = (s: ServerSnapshot, meetingID: string) =>
    claimMeeting(kv, {
      tenant: "",
      meetingID,
      serverId: 1,
      loadMilli: 1000,
      loadEntry: { value: server(s, 1).loadMilli, versionstamp: server(s, 1).loadVersionstamp },
      serversVersionstamp: s.versionstamp,
      now: 0,
    });
  assert.equal(await claim(old, "room-1"), null);
  assert.notEqual(await claim(current, "room-1"), null);
});
