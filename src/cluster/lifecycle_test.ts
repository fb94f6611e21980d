/**
 * The one-room rules of the meeting lifecycle, each against fake BBB servers on real sockets: offline is not
 * gone, in-doubt creates, knowing what runs before placing, repeat creates and admin state, error redirects.
 *
 * @module
 */
import assert from "node:assert/strict";
import { holder, poll, setup, tag } from "../../tests/harness.ts";
import { getMeeting, listSeen } from "../store/meetings.ts";
import { listServers, setServerState } from "../store/servers.ts";
import { splitAction } from "./lifecycle.ts";

/** The index of the fake that receives a create first, once one has (a fixed wait is too short under load). */
async function firstCreate(fakes: { requests: { call: string }[] }[]): Promise<number> {
  for (;;) {
    const i = fakes.findIndex((f) => f.requests.some((r) => r.call === "create"));
    if (i >= 0) return i;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Where a meetingID runs, by fake index. */
function copies(fakes: { meetings: Map<string, unknown> }[], id: string): number[] {
  return fakes.flatMap((f, i) => (f.meetings.has(id) ? [i] : []));
}

Deno.test("a holder whose getMeetings fails but which runs the meeting keeps it: join and create go there", async () => {
  await using h = await setup({ servers: 2, failoverDelayMs: 0 });
  await h.text("create", { meetingID: "busy", name: "Busy" });
  const b = holder(h.fakes, "busy");
  for (let i = 0; i < 3; i++) h.fakes[b].addParticipant("busy");
  h.fakes[b].callModes.getMeetings = "http500";
  await poll(h);
  await poll(h);
  assert.equal((await listServers(h.kv))[b].online, false);
  // Offline, even "gone" by the delay: the probe finds the meeting running there, so nothing moves.
  const join = await h.call("join", { meetingID: "busy", fullName: "Ann", role: "VIEWER" });
  assert.equal(join.status, 302);
  assert.ok(join.headers.get("location")!.startsWith(h.fakes[b].apiUrl));
  assert.equal(tag(await h.text("create", { meetingID: "busy", name: "Busy" }), "returncode"), "SUCCESS");
  assert.deepEqual(copies(h.fakes, "busy"), [b]);
  h.fakes[b].callModes = {};
  await poll(h);
  await poll(h);
  assert.deepEqual(copies(h.fakes, "busy"), [b]);
  assert.equal((await getMeeting(h.kv, "", "busy")).value!.serverId, b + 1);
});

Deno.test("within the failover delay a silent holder's meetings answer serverUnavailable, never a second room", async () => {
  await using h = await setup({ servers: 2, failoverDelayMs: 60_000, backendTimeoutMs: 300 });
  await h.text("create", { meetingID: "mm", name: "MM" });
  const b = holder(h.fakes, "mm");
  await h.fakes[b].stop();
  await poll(h);
  await poll(h);
  for (const call of ["create", "getMeetingInfo", "end"]) {
    const body = await h.text(call, { meetingID: "mm", name: "MM" });
    assert.equal(tag(body, "messageKey"), "serverUnavailable", call);
  }
  const redirectFalse = await h.text("join", {
    meetingID: "mm",
    fullName: "A",
    role: "VIEWER",
    redirect: "false",
  });
  assert.equal(tag(redirectFalse, "messageKey"), "serverUnavailable");
  assert.equal(tag(await h.text("isMeetingRunning", { meetingID: "mm" }), "running"), "false");
  assert.deepEqual(copies(h.fakes, "mm"), [b], "no copy was opened elsewhere");
  assert.equal((await getMeeting(h.kv, "", "mm")).value!.serverId, b + 1);
});

Deno.test("once the holder is gone (delay passed, probe failed), a join re-creates the meeting elsewhere", async () => {
  await using h = await setup({ servers: 2, failoverDelayMs: 300, backendTimeoutMs: 300 });
  await h.text("create", { meetingID: "mm", name: "MM" });
  const b = holder(h.fakes, "mm");
  await h.fakes[b].stop();
  await poll(h);
  await poll(h);
  await new Promise((r) => setTimeout(r, 350));
  const join = await h.call("join", { meetingID: "mm", fullName: "A", role: "VIEWER" });
  assert.equal(join.status, 302);
  assert.ok(join.headers.get("location")!.startsWith(h.fakes[1 - b].apiUrl));
  assert.deepEqual(copies(h.fakes, "mm").filter((i) => i !== b), [1 - b]);
});

Deno.test("a holder that answers it no longer runs the meeting (a restart): create places it anew, join is notFound", async () => {
  await using h = await setup({ servers: 2, failoverDelayMs: 60_000 });
  await h.text("create", { meetingID: "wiped", name: "WW" });
  await h.text("create", { meetingID: "wiped2", name: "WW" });
  for (const f of h.fakes) {
    f.callModes.getMeetings = "http500"; // offline, but its API still answers
    f.meetings.clear();
  }
  await poll(h);
  await poll(h);
  assert.equal(
    tag(await h.text("join", { meetingID: "wiped2", fullName: "A", redirect: "false" }), "messageKey"),
    "notFound",
  );
  assert.equal((await getMeeting(h.kv, "", "wiped2")).value, null);
  for (const f of h.fakes) f.callModes = {};
  await poll(h);
  await poll(h);
  assert.equal(tag(await h.text("create", { meetingID: "wiped", name: "WW" }), "returncode"), "SUCCESS");
  assert.equal(copies(h.fakes, "wiped").length, 1);
});

Deno.test("a create BBB performs but answers after the create timeout is tracked where it runs, never placed twice", async () => {
  await using h = await setup({ servers: 2, createTimeoutMs: 200, failoverDelayMs: 60_000 });
  for (const f of h.fakes) f.createDelayMs = 600;
  const first = await h.text("create", { meetingID: "slow", name: "Slow" });
  assert.match(first, /<returncode>(SUCCESS|FAILED)<\/returncode>/);
  assert.equal(copies(h.fakes, "slow").length, 1, "one copy, whatever the first answer");
  const where = copies(h.fakes, "slow")[0];
  const record = (await getMeeting(h.kv, "", "slow")).value!;
  assert.equal(record.status, "running");
  assert.equal(record.serverId, where + 1);
  for (const f of h.fakes) f.createDelayMs = 0;
  assert.equal(tag(await h.text("create", { meetingID: "slow", name: "Slow" }), "returncode"), "SUCCESS");
  assert.deepEqual(copies(h.fakes, "slow"), [where]);
});

Deno.test("an in-doubt create whose server says it has no such meeting is placed on the next server", async () => {
  await using h = await setup({ servers: 2, createTimeoutMs: 200, failoverDelayMs: 60_000 });
  for (const f of h.fakes) f.callModes.create = "hang";
  // The first server tried hangs on create without creating; the second answers.
  const body = h.text("create", { meetingID: "dd", name: "DD" });
  const tried = await firstCreate(h.fakes);
  h.fakes[1 - tried].callModes = {};
  assert.equal(tag(await body, "returncode"), "SUCCESS");
  assert.deepEqual(copies(h.fakes, "dd"), [1 - tried]);
});

Deno.test("an in-doubt create whose server is silent stays in doubt: no second room until it is gone", async () => {
  await using h = await setup({
    servers: 2,
    createTimeoutMs: 200,
    backendTimeoutMs: 300,
    failoverDelayMs: 60_000,
  });
  for (const f of h.fakes) f.mode = "hang";
  const body = h.text("create", { meetingID: "dd", name: "DD" });
  const tried = await firstCreate(h.fakes);
  h.fakes[1 - tried].mode = "ok";
  assert.equal(tag(await body, "messageKey"), "serverUnavailable");
  assert.equal((await getMeeting(h.kv, "", "dd")).value!.status, "doubt");
  assert.equal(
    tag(await h.text("create", { meetingID: "dd", name: "DD" }), "messageKey"),
    "serverUnavailable",
  );
  assert.deepEqual(copies(h.fakes, "dd"), []);
  // The server answers again and did create it: the next create goes there.
  h.fakes[tried].mode = "ok";
  h.fakes[tried].addMeeting("dd");
  assert.equal(tag(await h.text("create", { meetingID: "dd", name: "DD" }), "returncode"), "SUCCESS");
  assert.deepEqual(copies(h.fakes, "dd"), [tried]);
});

Deno.test("a meeting its server stopped listing is asked for there before it is placed again", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "hid", name: "HH" });
  const b = holder(h.fakes, "hid");
  h.fakes[b].hidden.add("hid");
  await new Promise((r) => setTimeout(r, 5)); // rounds sent in the create answer's millisecond do not count
  await poll(h);
  await poll(h);
  assert.equal((await getMeeting(h.kv, "", "hid")).value, null, "dropped after two rounds without it");
  assert.equal((await listSeen(h.kv, "", "hid"))[0].value.kind, "dropped");
  await setServerState(h.kv, b + 1, "disabled"); // placement alone would choose the other server now
  assert.equal(tag(await h.text("create", { meetingID: "hid", name: "HH" }), "returncode"), "SUCCESS");
  assert.deepEqual(copies(h.fakes, "hid"), [b]);
  assert.equal((await getMeeting(h.kv, "", "hid")).value!.serverId, b + 1);
});

Deno.test("a repeat create whose holder is disabled goes there only while the meeting still runs there", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "rr", name: "RR" });
  const b = holder(h.fakes, "rr");
  await setServerState(h.kv, b + 1, "disabled");
  assert.equal(
    tag(await h.text("create", { meetingID: "rr", name: "RR" }), "messageKey"),
    "duplicateWarning",
  );
  assert.deepEqual(copies(h.fakes, "rr"), [b]);
  h.fakes[b].meetings.delete("rr"); // it ended there, unnoticed so far
  assert.equal(tag(await h.text("create", { meetingID: "rr", name: "RR" }), "returncode"), "SUCCESS");
  assert.deepEqual(copies(h.fakes, "rr"), [1 - b], "placed anew on an enabled server");
});

Deno.test("splitAction(): the recorded copy stays while it has participants; the other is ended only when empty twice", () => {
  const fresh = { splitSwitched: false };
  assert.deepEqual(splitAction(fresh, { participants: 3, emptyRounds: 0 }, 2, true), { kind: "keep" });
  assert.deepEqual(splitAction(fresh, { participants: 3, emptyRounds: 0 }, 0, true), { kind: "switch" });
  assert.deepEqual(splitAction(fresh, { participants: 3, emptyRounds: 0 }, null, true), { kind: "switch" });
  assert.deepEqual(splitAction({ splitSwitched: true }, { participants: 3, emptyRounds: 0 }, 0, true), {
    kind: "keep",
  }, "sticky: never switched back");
  assert.deepEqual(splitAction(fresh, { participants: 0, emptyRounds: 1 }, 2, true), { kind: "keep" });
  assert.deepEqual(splitAction(fresh, { participants: 0, emptyRounds: 2 }, 2, true), { kind: "end" });
  assert.deepEqual(splitAction(fresh, { participants: 0, emptyRounds: 5 }, 2, false), { kind: "keep" });
});
