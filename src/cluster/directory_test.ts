/**
 * Tests of the in-memory directory that joins are answered from: it must never be stale for longer than its
 * bounds, and a change made in this process must be seen at once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Directory } from "./directory.ts";
import { keys } from "../store/keys.ts";
import { markFailure, setServerState, updateServer } from "../store/servers.ts";
import { storeWithServers } from "../../tests/harness.ts";

function store(): Promise<Deno.Kv> {
  return storeWithServers(2);
}

function running(serverId: number) {
  return {
    tenant: "",
    meetingID: "room",
    serverId,
    status: "running",
    historyId: `h${serverId}`,
    movedFrom: [],
  };
}

Deno.test("a meeting moved by another process is seen by the directory within its bound, not later", async () => {
  const kv = await store();
  let now = 1_000_000;
  const d = new Directory(kv, { meetingMs: 1000, now: () => now });
  await kv.set(keys.meeting("", "room"), running(1));
  assert.equal((await d.meeting("", "room")).value?.serverId, 1);
  await kv.set(keys.meeting("", "room"), running(2)); // another process moved it
  now += 500;
  assert.equal((await d.meeting("", "room")).value?.serverId, 1, "remembered within the bound");
  now += 501;
  assert.equal((await d.meeting("", "room")).value?.serverId, 2, "read again after the bound");
  kv.close();
});

Deno.test("an unknown or still-creating meeting is always read from the store", async () => {
  const kv = await store();
  const d = new Directory(kv, { now: () => 0 });
  assert.equal((await d.meeting("", "room")).value, null);
  await kv.set(keys.meeting("", "room"), { ...running(1), status: "creating" });
  assert.equal((await d.meeting("", "room")).value?.status, "creating");
  await kv.set(keys.meeting("", "room"), running(1));
  assert.equal((await d.meeting("", "room")).value?.status, "running", "no negative or creating entry kept");
  assert.equal(d.rememberedMeetings, 1);
  kv.close();
});

Deno.test("forgetMeeting makes the next lookup read the store at once", async () => {
  const kv = await store();
  const d = new Directory(kv, { now: () => 0 });
  await kv.set(keys.meeting("", "room"), running(1));
  await d.meeting("", "room");
  await kv.delete(keys.meeting("", "room")); // ended by this process
  d.forgetMeeting("", "room");
  assert.equal((await d.meeting("", "room")).value, null);
  kv.close();
});

Deno.test("an admin change to a server reaches the directory within its bound", async () => {
  const kv = await store();
  let now = 0;
  const d = new Directory(kv, { serversMs: 1000, now: () => now });
  assert.equal((await d.server(1))?.server.secret, "secret-1");
  await updateServer(kv, 1, { secret: "rotated" });
  await setServerState(kv, 2, "disabled");
  now = 1001;
  assert.equal((await d.server(1))?.server.secret, "rotated");
  assert.equal((await d.server(2))?.server.state, "disabled");
  assert.equal(await d.server(3), null);
  kv.close();
});

Deno.test("a server that went offline is seen at once after forgetServers (a failed call, a poll round)", async () => {
  const kv = await store();
  const d = new Directory(kv, { serversMs: 60_000, now: () => 0 });
  assert.equal((await d.server(1))?.health.online, true);
  await markFailure(kv, 1, "down", 1);
  assert.equal((await d.server(1))?.health.online, true, "still the snapshot");
  d.forgetServers();
  assert.equal((await d.server(1))?.health.online, false);
  kv.close();
});

Deno.test("the directory remembers at most maxMeetings meetings", async () => {
  const kv = await store();
  const d = new Directory(kv, { maxMeetings: 3, now: () => 0 });
  for (let i = 0; i < 5; i++) {
    await kv.set(keys.meeting("", `m${i}`), { ...running(1), meetingID: `m${i}` });
    await d.meeting("", `m${i}`);
  }
  assert.equal(d.rememberedMeetings, 3);
  kv.close();
});
