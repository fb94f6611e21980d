/**
 * Tests of what a poll round writes about servers: health changes that never overwrite a request-path failure,
 * stats written only when they change, and the drain of an emptied cordoned server.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  addServer,
  disableCordoned,
  failedHealth,
  getServer,
  listServers,
  markFailure,
  type ServerHealth,
  type ServerRecord,
  serversVersionstamp,
  setServerState,
  writeRoundHealth,
  writeServerStats,
} from "./servers.ts";

const server = (id: number): ServerRecord => ({
  id,
  apiUrl: `http://127.0.0.1:1/bigbluebutton/api/`,
  secret: "s",
  weight: 1,
  state: "enabled",
  checksum: "sha256",
  addedAt: 0,
});

Deno.test("a round's health change is written unless a request-path failure changed the health meanwhile", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await addServer(kv, server(1));
    await addServer(kv, server(2));
    const [one, two] = await listServers(kv);
    const down = (h: ServerHealth) => failedHealth(h, "refused", 1, 1000);
    // A request to server 2 fails between the round's read and its write: that newer failure must stay.
    await markFailure(kv, 2, "timeout", 1);
    const { applied } = await writeRoundHealth(kv, [
      { id: 1, from: one.health, to: down(one.health) },
      { id: 2, from: two.health, to: down(two.health) },
    ]);
    assert.deepEqual(applied.map((w) => w.id), [1]);
    const after = await listServers(kv);
    assert.equal(after[0].health.online, false);
    assert.equal(after[0].health.lastError, "refused");
    assert.equal(after[1].health.lastError, "timeout");
  } finally {
    kv.close();
  }
});

Deno.test("a round writes a server's stats only when they changed, so caches are not invalidated for nothing", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await addServer(kv, server(1));
    const stats = { participants: 3, videos: 1, extraMilli: 0 };
    await writeServerStats(kv, 1, stats);
    const version = await serversVersionstamp(kv);
    await writeServerStats(kv, 1, { ...stats });
    assert.equal(await serversVersionstamp(kv), version);
    await writeServerStats(kv, 1, { ...stats, participants: 4 });
    assert.notEqual(await serversVersionstamp(kv), version);
    assert.equal((await listServers(kv))[0].stats.participants, 4);
  } finally {
    kv.close();
  }
});

Deno.test("an emptied cordoned server is disabled, but one an operator enabled meanwhile is left alone", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await addServer(kv, { ...server(1), state: "cordoned" });
    await addServer(kv, { ...server(2), state: "cordoned" });
    await setServerState(kv, 2, "enabled");
    assert.equal(await disableCordoned(kv, 1), true);
    assert.equal(await disableCordoned(kv, 2), false);
    assert.equal((await getServer(kv, 1))?.state, "disabled");
    assert.equal((await getServer(kv, 2))?.state, "enabled");
  } finally {
    kv.close();
  }
});
