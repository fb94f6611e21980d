import assert from "node:assert/strict";
import { holder, poll, setup, tag } from "../../tests/harness.ts";
import { newPollState } from "../poller/round.ts";
import { getServer, serverVersion, updateServer } from "../store/servers.ts";
import { VERSION_CHECK_MS } from "./versions.ts";

Deno.test("the poller reads the version a server reveals, which wins over the operator's", async () => {
  await using h = await setup({ servers: 2 });
  h.fakes[0].bbbVersion = "3.0.34";
  await updateServer(h.kv, 1, { configuredVersion: "2.7" });
  await updateServer(h.kv, 2, { configuredVersion: "2.7" });
  let now = 1_000_000;
  const state = newPollState();
  const round = () => poll(h, { state, now: () => now });
  await round();
  assert.equal(serverVersion((await getServer(h.kv, 1))!), "3.0.34");
  assert.equal(
    serverVersion((await getServer(h.kv, 2))!),
    "2.7",
    "a server that hides it keeps the operator's",
  );
  // read again only after VERSION_CHECK_MS: an upgrade shows up then
  h.fakes[0].bbbVersion = "4.0.0-beta.5";
  const roots = () => h.fakes[0].requests.filter((r) => r.call === "").length;
  const before = roots();
  await round();
  assert.equal(roots(), before, "not read every round");
  now += VERSION_CHECK_MS;
  await round();
  assert.equal((await getServer(h.kv, 1))?.revealedVersion, "4.0.0-beta.5");
  // a server that stops revealing it falls back to the operator's
  h.fakes[0].bbbVersion = "";
  now += VERSION_CHECK_MS;
  await round();
  assert.equal(serverVersion((await getServer(h.kv, 1))!), "2.7");
});

Deno.test("a create asks for a BBB version with meta_server-tag=bbb-<major>, and BBB gets no implicit tag", async () => {
  await using h = await setup({ servers: 3 });
  await updateServer(h.kv, 1, { configuredVersion: "2.7.12" });
  await updateServer(h.kv, 2, { revealedVersion: "3.0.34" });
  await updateServer(h.kv, 3, { configuredVersion: "4.0.0-beta.5" });
  for (
    const [id, wanted, server] of [["v3", "bbb-3", 1], ["v27", "bbb-2.7!", 0], ["v4", "bbb-4", 2]] as const
  ) {
    const body = await h.text("create", { meetingID: id, name: "Versioned", "meta_server-tag": wanted });
    assert.equal(tag(body, "returncode"), "SUCCESS", body);
    assert.equal(holder(h.fakes, id), server, id);
    assert.equal(h.fakes[server].meetings.get(id)!.createParams.has("meta_server-tag"), false);
  }
  const refused = await h.text("create", { meetingID: "v5", name: "Versioned", "meta_server-tag": "bbb-5!" });
  assert.equal(tag(refused, "messageKey"), "serverTagUnavailable");
  // servers with a version are not "tagged": untagged creates still use them all
  for (let i = 0; i < 6; i++) await h.text("create", { meetingID: `plain-${i}`, name: "Plain" });
  assert.ok(h.fakes.every((f) => f.meetings.size >= 2), "untagged creates spread over every server");
});

Deno.test("move and failover keep a meeting on its BBB major when a server of it can take it", async () => {
  await using h = await setup({ servers: 3, failoverDelayMs: 300, backendTimeoutMs: 300 });
  await updateServer(h.kv, 1, { configuredVersion: "3.0" });
  await updateServer(h.kv, 2, { configuredVersion: "4.0" });
  await updateServer(h.kv, 3, { configuredVersion: "3.0" });
  await h.text("create", { meetingID: "mj", name: "Major", "meta_server-tag": "bbb-3" });
  const from = holder(h.fakes, "mj");
  assert.ok(from === 0 || from === 2);
  // the 4.0 server is emptier, but a move stays on 3.x
  for (let i = 0; i < 3; i++) {
    await h.text("create", { meetingID: `fill-${i}`, name: "Fill", "meta_server-tag": `bbb-3.0` });
  }
  assert.equal(tag(await h.text("move", { meetingID: "mj" }), "returncode"), "SUCCESS");
  const moved = holder(h.fakes, "mj");
  assert.equal(moved, 2 - from, "moved to the other 3.0 server");
  /** Stop server `i`, let it be gone, and join: the index of the server the join goes to. */
  const killAndJoin = async (i: number) => {
    await h.fakes[i].stop();
    await poll(h);
    await poll(h);
    await new Promise((r) => setTimeout(r, 350));
    const join = await h.call("join", { meetingID: "mj", fullName: "A", role: "VIEWER" });
    assert.equal(join.status, 302);
    return h.fakes.findIndex((f) => join.headers.get("location")!.startsWith(f.apiUrl));
  };
  // its server dies: the failover goes to the other 3.0 server, not the empty 4.0 one
  assert.equal(await killAndJoin(moved), from);
  // with no 3.x server left, the 4.0 server takes it
  assert.equal(await killAndJoin(from), 1);
});
