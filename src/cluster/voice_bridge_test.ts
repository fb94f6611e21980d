/**
 * Dial-in PINs across the cluster: allocation length, the echo test, breakout room PINs, adopted meetings and
 * PINs two servers gave out, against fake BBB servers over real sockets.
 *
 * @module
 */
import assert from "node:assert/strict";
import { holder, poll, pollDeps, setup, tag } from "../../tests/harness.ts";
import { createLogger } from "../log.ts";
import { pollRound } from "../poller/round.ts";
import { keys } from "../store/keys.ts";
import { getMeeting } from "../store/meetings.ts";
import { setServerState } from "../store/servers.ts";
import { getVoiceBridge } from "../store/voice_bridges.ts";
import {
  breakoutPins,
  parentPins,
  randomVoiceBridge,
  relatedPins,
  routeVoiceBridge,
} from "./voice_bridge.ts";

Deno.test("parentPins names the meetings whose breakout rooms 1 to 16 would have a PIN", () => {
  assert.deepEqual(parentPins("123451"), ["12345"]);
  assert.deepEqual(parentPins("1234516"), ["123451", "12345"]);
  assert.deepEqual(parentPins("1234517"), ["123451"]); // room 17 does not exist
  assert.deepEqual(parentPins("1234510"), ["12345"]); // ends in 0: only room 10
  assert.deepEqual(parentPins("12a"), []);
  assert.equal(breakoutPins("12345").at(-1), "1234516");
  assert.equal(relatedPins("12314").length, 16 + 2); // parents 1231 and 123
});

Deno.test("randomVoiceBridge gives the configured number of digits, no leading zero, never 99999", () => {
  for (const digits of [5, 9]) {
    for (let i = 0; i < 200; i++) {
      assert.match(randomVoiceBridge(digits), new RegExp(`^[1-9]\\d{${digits - 1}}$`));
    }
  }
});

Deno.test("create with voiceBridge 99999 is refused and reaches no server", async () => {
  await using h = await setup({ servers: 2 });
  const body = await h.text("create", { meetingID: "echo", name: "Echo", voiceBridge: " 99999 " });
  assert.equal(tag(body, "messageKey"), "validationError");
  assert.match(tag(body, "message")!, /echo test/);
  assert.ok(h.fakes.every((f) => !f.meetings.has("echo")));
  assert.equal((await getMeeting(h.kv, "", "echo")).value, null);
});

Deno.test("--voice-bridge-digits sets the length of the PINs bbblb allocates", async () => {
  await using h = await setup({ servers: 2, voiceBridgeDigits: 9 });
  const vb = tag(await h.text("create", { meetingID: "nine", name: "Nine" }), "voiceBridge")!;
  assert.match(vb, /^[1-9]\d{8}$/);
  assert.deepEqual((await getVoiceBridge(h.kv, vb)).value, { tenant: "", meetingID: "nine" });
});

Deno.test("a client PIN equal to another meeting's breakout room PIN is refused, and the other way round", async () => {
  await using h = await setup({ servers: 2 });
  assert.equal(
    tag(await h.text("create", { meetingID: "parent", name: "Parent", voiceBridge: "54321" }), "returncode"),
    "SUCCESS",
  );
  for (const pin of ["543211", "5432116"]) {
    const body = await h.text("create", { meetingID: `child-${pin}`, name: "Child", voiceBridge: pin });
    assert.equal(tag(body, "key"), "nonUniqueVoiceBridge", pin);
  }
  // A PIN whose own breakout rooms would collide with a running meeting's PIN is refused too.
  assert.equal(
    tag(await h.text("create", { meetingID: "short", name: "Short", voiceBridge: "5432" }), "key"),
    "nonUniqueVoiceBridge",
  );
  // Room 17 does not exist: 5432117 is free.
  assert.equal(
    tag(await h.text("create", { meetingID: "free", name: "Free", voiceBridge: "5432117" }), "returncode"),
    "SUCCESS",
  );
  await h.text("end", { meetingID: "parent" });
  // 543211 is free of its parent now, but 5432117 would be its room 7.
  const child = () => h.text("create", { meetingID: "child", name: "Child", voiceBridge: "543211" });
  assert.equal(tag(await child(), "key"), "nonUniqueVoiceBridge");
  await h.text("end", { meetingID: "free" });
  assert.equal(tag(await child(), "returncode"), "SUCCESS");
});

Deno.test("the PIN of an adopted meeting is reserved cluster-wide, and released when it ends", async () => {
  await using h = await setup({ servers: 2 });
  h.fakes[0].addMeeting("direct", { voiceBridge: "61234" });
  await poll(h);
  assert.deepEqual((await getVoiceBridge(h.kv, "61234")).value, { tenant: "", meetingID: "direct" });
  await setServerState(h.kv, 1, "disabled"); // a new meeting goes to the other server
  const body = await h.text("create", { meetingID: "clash", name: "Clash", voiceBridge: "61234" });
  assert.equal(tag(body, "key"), "nonUniqueVoiceBridge");
  assert.equal(h.fakes[1].meetings.has("clash"), false);
  const route = await routeVoiceBridge(h.kv, "61234");
  assert.equal(route?.meeting.serverId, 1);
  h.fakes[0].meetings.delete("direct");
  await poll(h);
  await poll(h);
  assert.equal((await getVoiceBridge(h.kv, "61234")).value, null);
  assert.equal(
    tag(await h.text("create", { meetingID: "clash", name: "Clash", voiceBridge: "61234" }), "returncode"),
    "SUCCESS",
  );
});

Deno.test("two adopted meetings sharing a PIN are logged and not routable until one ends", async () => {
  const warnings: string[] = [];
  const log = createLogger({ level: "warn", write: (line) => warnings.push(line) });
  await using h = await setup({ servers: 2 });
  h.fakes[0].addMeeting("on-one", { voiceBridge: "71111" });
  h.fakes[1].addMeeting("on-two", { voiceBridge: "71111" });
  await pollRound({ ...pollDeps(h), log });
  assert.ok((await getMeeting(h.kv, "", "on-one")).value);
  assert.ok((await getMeeting(h.kv, "", "on-two")).value);
  assert.equal((await getVoiceBridge(h.kv, "71111")).value?.shared, true);
  assert.equal(await routeVoiceBridge(h.kv, "71111"), null);
  assert.equal(await routeVoiceBridge(h.kv, "711111"), null); // nor its breakout rooms
  assert.equal(warnings.filter((w) => /shared/.test(w)).length, 1);
  await pollRound({ ...pollDeps(h), log });
  assert.equal(warnings.filter((w) => /shared/.test(w)).length, 1); // logged once
  h.fakes[1].meetings.delete("on-two");
  await poll(h);
  await poll(h);
  assert.equal((await getVoiceBridge(h.kv, "71111")).value?.shared, undefined);
  assert.equal((await routeVoiceBridge(h.kv, "71111"))?.meeting.meetingID, "on-one");
});

Deno.test("a breakout room's PIN routes to its parent's server; unknown and odd PINs route nowhere", async () => {
  await using h = await setup({ servers: 3 });
  await h.text("create", { meetingID: "lecture", name: "Lecture", voiceBridge: "43210" });
  const server = holder(h.fakes, "lecture") + 1;
  for (const pin of ["43210", "432101", "4321016"]) {
    const route = await routeVoiceBridge(h.kv, pin);
    assert.equal(route?.meeting.serverId, server, pin);
    assert.equal(route?.breakout, pin !== "43210");
  }
  for (const pin of ["4321017", "43211", "", "4321a", "1".repeat(40)]) {
    assert.equal(await routeVoiceBridge(h.kv, pin), null, pin);
  }
  assert.ok((await h.kv.get(keys.voiceBridge("43210"))).value);
});

Deno.test("--dial-number replaces the dialNumber of every new meeting, the client's too", async () => {
  await using h = await setup({ servers: 2, dialNumber: "+49 30 1234-5678" });
  for (const params of [{}, { dialNumber: "613-555-1234" }] as Record<string, string>[]) {
    const id = `dial-${Object.keys(params).length}`;
    assert.equal(
      tag(await h.text("create", { meetingID: id, name: "Dial room", ...params }), "returncode"),
      "SUCCESS",
    );
    const sent = h.fakes[holder(h.fakes, id)].meetings.get(id)!.createParams;
    assert.deepEqual(sent.getAll("dialNumber"), ["+49 30 1234-5678"]);
  }
});
