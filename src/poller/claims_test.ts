/**
 * Abandoned claims (a process died between claiming a meetingID and BBB's answer) are settled by the poll round
 * by what their server lists, so a meeting BBB runs is never forgotten and never placed a second time.
 *
 * @module
 */
import assert from "node:assert/strict";
import { claimMeeting, getMeeting, loadCreateParams } from "../store/meetings.ts";
import { listServers } from "../store/servers.ts";
import { silentLogger } from "../log.ts";
import { pollRound } from "./round.ts";
import { assertLoadsExact, setup, sign, tag } from "../../tests/harness.ts";
import { addTenant, emptyTenant, tenantSlot } from "../store/tenants.ts";
import { backendMeetingID } from "../cluster/tenancy.ts";

/** A poll round in which a claim older than 30 s is settled by what its server lists. */
function claimRound(kv: Deno.Kv, missedRounds?: number) {
  return pollRound({
    kv,
    backendTimeoutMs: 1000,
    failThreshold: 2,
    recoverThreshold: 2,
    staleClaimMs: 30_000,
    missedRounds,
    log: silentLogger,
  });
}

Deno.test("poll rounds track an abandoned claim its server runs, release one it misses twice, and leave fresh ones", async () => {
  await using h = await setup({ servers: 1 });
  const now = Date.now();
  const claim = async (meetingID: string, age: number) => {
    const load = (await listServers(h.kv))[0];
    const c = await claimMeeting(h.kv, {
      tenant: "",
      meetingID,
      serverId: 1,
      loadMilli: 2000,
      loadEntry: { value: load.loadMilli, versionstamp: load.loadVersionstamp },
      now: now - age,
    });
    assert.ok(c);
  };
  await claim("reached-bbb", 60_000);
  h.fakes[0].addMeeting("reached-bbb"); // the create got there before the process died
  await claim("never-sent", 60_000);
  await claim("in-flight", 1_000);
  const round = () => claimRound(h.kv);
  const report = await round();
  assert.equal(report.claimsSettled, 1, "the listed claim is tracked at once");
  assert.equal(
    (await getMeeting(h.kv, "", "never-sent")).value?.status,
    "creating",
    "one answer is not enough",
  );
  assert.equal((await round()).claimsSettled, 1, "the second answer without it releases the other");
  assert.equal(report.adopted, 0, "the claim itself is tracked, not a second record");
  const reached = (await getMeeting(h.kv, "", "reached-bbb")).value!;
  assert.equal(reached.status, "running");
  assert.equal(reached.loadMilli, 2000, "its declared load is kept");
  assert.equal(reached.internalMeetingID, h.fakes[0].meetings.get("reached-bbb")!.internalMeetingID);
  assert.equal((await getMeeting(h.kv, "", "never-sent")).value, null);
  assert.equal((await getMeeting(h.kv, "", "in-flight")).value?.status, "creating");
  await assertLoadsExact(h.kv);
  // A join now reaches the meeting where BBB runs it.
  const join = await h.call("join", { meetingID: "reached-bbb", fullName: "Ann", role: "VIEWER" });
  assert.equal(join.status, 302);
  assert.ok(join.headers.get("location")!.startsWith(h.fakes[0].apiUrl));
});

Deno.test("a create for a meetingID whose abandoned claim BBB did create goes there, not to a second server", async () => {
  await using h = await setup({ servers: 2 });
  const load = (await listServers(h.kv)).find((s) => s.id === 1)!;
  const stale = await claimMeeting(h.kv, {
    tenant: "",
    meetingID: "half-made",
    serverId: 1,
    loadMilli: 1000,
    loadEntry: { value: load.loadMilli, versionstamp: load.loadVersionstamp },
    now: Date.now() - 10 * 60_000, // long past the stale limit
  });
  assert.ok(stale);
  h.fakes[0].addMeeting("half-made"); // the dead process's create reached server 1
  // server 2 is empty, so a fresh placement would choose it
  assert.match(await h.text("create", { meetingID: "half-made", name: "Room" }), /SUCCESS/);
  assert.equal(h.fakes[1].meetings.has("half-made"), false, "not created on a second server");
  const m = (await getMeeting(h.kv, "", "half-made")).value!;
  assert.equal(m.status, "running");
  assert.equal(m.serverId, 1);
  await assertLoadsExact(h.kv);
});

Deno.test("a create for a meetingID whose abandoned claim never reached BBB places it anew", async () => {
  await using h = await setup({ servers: 1 });
  const load = (await listServers(h.kv))[0];
  assert.ok(
    await claimMeeting(h.kv, {
      tenant: "",
      meetingID: "never-made",
      serverId: 1,
      loadMilli: 5000,
      loadEntry: { value: load.loadMilli, versionstamp: load.loadVersionstamp },
      now: Date.now() - 10 * 60_000,
    }),
  );
  assert.match(await h.text("create", { meetingID: "never-made", name: "Room" }), /SUCCESS/);
  assert.equal((await getMeeting(h.kv, "", "never-made")).value?.status, "running");
  assert.equal((await getMeeting(h.kv, "", "never-made")).value?.loadMilli, 1000, "the new create's load");
  await assertLoadsExact(h.kv);
});

Deno.test("an abandoned claim of a tenant's meeting is found under the ID its server knows, and tracked", async () => {
  await using h = await setup({ servers: 1 });
  await addTenant(h.kv, { ...emptyTenant("law"), secrets: ["law-secret-0123456789"] });
  const load = (await listServers(h.kv))[0];
  const tenant = tenantSlot("law");
  await claimMeeting(h.kv, {
    tenant,
    meetingID: "lecture",
    serverId: 1,
    loadMilli: 1000,
    loadEntry: { value: load.loadMilli, versionstamp: load.loadVersionstamp },
    now: Date.now() - 60_000,
  });
  // The create reached BBB before the process died: the server runs it under the scoped ID.
  h.fakes[0].addMeeting(backendMeetingID(tenant, "lecture"));
  const before = (await getMeeting(h.kv, tenant, "lecture")).value!;
  const report = await claimRound(h.kv);
  assert.equal(report.claimsSettled, 1);
  assert.equal(report.adopted, 0, "not released and adopted again as a new instance");
  const after = (await getMeeting(h.kv, tenant, "lecture")).value!;
  assert.equal(after.status, "running");
  assert.equal(after.historyId, before.historyId, "the same instance");
  await assertLoadsExact(h.kv);
});

Deno.test("a claim keeps the create parameters in its own commit: one settled after a crash keeps the client's", async () => {
  await using h = await setup({ servers: 1 });
  const load = (await listServers(h.kv))[0];
  const params: [string, string][] = [
    ["meetingID", "kept"],
    ["name", "Kept room"],
    ["welcome", "Hello from the front-end"],
    ["logoutURL", "https://front.example/after"],
  ];
  const claim = await claimMeeting(h.kv, {
    tenant: "",
    meetingID: "kept",
    serverId: 1,
    loadMilli: 1000,
    loadEntry: { value: load.loadMilli, versionstamp: load.loadVersionstamp },
    params,
    now: Date.now() - 60_000,
  });
  assert.ok(claim);
  assert.deepEqual(await loadCreateParams(h.kv, claim.value.historyId), params);
  // The process died after BBB created the meeting and before it recorded the answer.
  h.fakes[0].addMeeting("kept");
  const report = await claimRound(h.kv);
  assert.equal(report.claimsSettled, 1);
  const m = (await getMeeting(h.kv, "", "kept")).value!;
  assert.equal(m.status, "running");
  assert.deepEqual(await loadCreateParams(h.kv, m.historyId), params);
});

Deno.test("a join right after a create lands on the meeting's server, with BBB's answer recorded", async () => {
  await using h = await setup({ servers: 2, directory: true });
  const res = await h.app.request(
    `/bigbluebutton/api/create?${sign("create", "meetingID=quick&name=Quick")}`,
  );
  assert.equal(tag(await res.text(), "returncode"), "SUCCESS");
  // no waiting for the recording: the join comes at once, as a front-end's does
  const join = await h.app.request(
    `/bigbluebutton/api/join?${sign("join", "meetingID=quick&fullName=Ann&role=MODERATOR")}`,
  );
  assert.equal(join.status, 302);
  const where = h.fakes.findIndex((f) => f.meetings.has("quick"));
  assert.ok(join.headers.get("location")!.startsWith(h.fakes[where].apiUrl));
  const m = (await getMeeting(h.kv, "", "quick")).value!;
  assert.equal(m.status, "running");
  assert.equal(m.internalMeetingID, h.fakes[where].meetings.get("quick")!.internalMeetingID);
});

Deno.test("a released claim's meeting that another server runs is adopted in the same round, not a round later", async () => {
  await using h = await setup({ servers: 2 });
  const load = (await listServers(h.kv)).find((s) => s.id === 2)!;
  // The claim is on server 2, which never got the create; the meeting runs on server 1 (polled first).
  const claimed = await claimMeeting(h.kv, {
    tenant: "",
    meetingID: "elsewhere",
    serverId: 2,
    loadMilli: 1000,
    loadEntry: { value: load.loadMilli, versionstamp: load.loadVersionstamp },
    now: Date.now() - 10 * 60_000,
  });
  assert.ok(claimed);
  h.fakes[0].addMeeting("elsewhere");
  const report = await claimRound(h.kv, 1);
  assert.equal(report.claimsSettled, 1, "server 2 does not run it: the claim is released");
  assert.equal(report.adopted, 1, "and the copy server 1 runs is adopted in that round");
  const record = (await getMeeting(h.kv, "", "elsewhere")).value!;
  assert.equal(record.status, "running");
  assert.equal(record.serverId, 1);
  await assertLoadsExact(h.kv);
  const join = await h.call("join", { meetingID: "elsewhere", fullName: "Ann", role: "VIEWER" });
  assert.equal(join.status, 302);
  assert.ok(join.headers.get("location")!.startsWith(h.fakes[0].apiUrl));
});
