import assert from "node:assert/strict";
import { holder, setup, tag } from "../../tests/harness.ts";
import { keys } from "../store/keys.ts";
import { setServerState, updateServer } from "../store/servers.ts";

async function tagServers(h: Awaited<ReturnType<typeof setup>>, tags: Record<number, string[]>) {
  for (const [id, t] of Object.entries(tags)) await updateServer(h.kv, Number(id), { tags: t });
}

Deno.test("meta_server-tag places a meeting on a server with the tag, and BBB gets the server's real tags", async () => {
  await using h = await setup({ servers: 3 });
  await tagServers(h, { 2: ["lecture", "big"] });
  for (let i = 0; i < 4; i++) {
    await h.text("create", { meetingID: `lec-${i}`, name: "Lecture", "meta_server-tag": "lecture" });
  }
  assert.equal(h.fakes[1].meetings.size, 4);
  assert.equal(h.fakes[1].meetings.get("lec-0")!.createParams.get("meta_server-tag"), "lecture;big");
});

Deno.test("creates without a tag never land on tagged servers, and an untagged server gets no meta_server-tag", async () => {
  await using h = await setup({ servers: 2 });
  await tagServers(h, { 1: ["gpu"] });
  for (let i = 0; i < 4; i++) await h.text("create", { meetingID: `plain-${i}`, name: "Plain" });
  assert.equal(h.fakes[0].meetings.size, 0);
  assert.equal(h.fakes[1].meetings.size, 4);
  await h.text("create", { meetingID: "unknown-tag", name: "Fallback", "meta_server-tag": "nosuch" });
  assert.equal(holder(h.fakes, "unknown-tag"), 1); // falls back to untagged servers
  assert.equal(h.fakes[1].meetings.get("unknown-tag")!.createParams.has("meta_server-tag"), false);
});

Deno.test("a required tag that no eligible server carries is FAILED serverTagUnavailable", async () => {
  await using h = await setup({ servers: 2 });
  await tagServers(h, { 1: ["gpu"] });
  const body = await h.text("create", { meetingID: "need-gpu", name: "GPU", "meta_server-tag": "video!" });
  assert.equal(tag(body, "messageKey"), "serverTagUnavailable");
  assert.match(tag(body, "message")!, /video/);
  assert.equal((await h.kv.get(keys.meeting("", "need-gpu"))).value, null);
  // a tagged server that is disabled does not count
  await setServerState(h.kv, 1, "disabled");
  assert.equal(
    tag(
      await h.text("create", { meetingID: "need-gpu", name: "GPU", "meta_server-tag": "gpu!" }),
      "messageKey",
    ),
    "serverTagUnavailable",
  );
});

Deno.test("a moved meeting keeps to servers with its tag", async () => {
  await using h = await setup({ servers: 3 });
  await tagServers(h, { 1: ["lecture"], 2: ["lecture"] });
  await h.text("create", { meetingID: "tag-move", name: "Tagged", "meta_server-tag": "lecture!" });
  const from = holder(h.fakes, "tag-move");
  assert.ok(from === 0 || from === 1);
  assert.equal(tag(await h.text("move", { meetingID: "tag-move" }), "returncode"), "SUCCESS");
  assert.equal(holder(h.fakes, "tag-move"), 1 - from); // the other lecture server, never the untagged one
  assert.equal(tag(await h.text("move", { meetingID: "tag-move" }), "returncode"), "SUCCESS");
  assert.equal(holder(h.fakes, "tag-move"), from);
});
