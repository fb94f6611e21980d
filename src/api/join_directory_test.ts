/**
 * Joins answered from the in-memory directory (as `serve` runs): what this process changes is seen by the next
 * join at once, with no store read on the way.
 *
 * @module
 */
import assert from "node:assert/strict";
import { holder, setup } from "../../tests/harness.ts";

Deno.test("with the directory, a join right after end answers notFound instead of redirecting", async () => {
  await using h = await setup({ directory: true });
  assert.match(await h.text("create", { meetingID: "dir-end", name: "Room" }), /SUCCESS/);
  const first = await h.call("join", { meetingID: "dir-end", fullName: "Ann", role: "VIEWER" });
  assert.equal(first.status, 302);
  assert.match(await h.text("end", { meetingID: "dir-end" }), /SUCCESS/);
  const after = await h.text("join", { meetingID: "dir-end", fullName: "Ann", role: "VIEWER" });
  assert.match(after, /<messageKey>notFound<\/messageKey>/);
});

Deno.test("with the directory, a join right after a move goes to the new server", async () => {
  await using h = await setup({ directory: true });
  assert.match(await h.text("create", { meetingID: "dir-move", name: "Room" }), /SUCCESS/);
  const before = holder(h.fakes, "dir-move");
  const join = () => h.call("join", { meetingID: "dir-move", fullName: "Ann", role: "VIEWER" });
  assert.ok((await join()).headers.get("location")!.startsWith(h.fakes[before].apiUrl));
  assert.match(await h.text("move", { meetingID: "dir-move" }), /SUCCESS/);
  const after = holder(h.fakes, "dir-move");
  assert.notEqual(after, before);
  assert.ok((await join()).headers.get("location")!.startsWith(h.fakes[after].apiUrl));
});

Deno.test("with the directory, a join to a meeting whose server stopped answering moves it (failover)", async () => {
  await using h = await setup({ directory: true });
  assert.match(await h.text("create", { meetingID: "dir-fail", name: "Room" }), /SUCCESS/);
  const before = holder(h.fakes, "dir-fail");
  const join = () => h.call("join", { meetingID: "dir-fail", fullName: "Ann", role: "VIEWER" });
  assert.equal((await join()).status, 302);
  await h.fakes[before].stop();
  // Two failed calls on the request path take the server offline (failThreshold 2); each is seen at once.
  for (let i = 0; i < 2; i++) {
    assert.match(await h.text("getMeetingInfo", { meetingID: "dir-fail" }), /FAILED/);
  }
  const res = await join();
  assert.equal(res.status, 302);
  const now = holder(h.fakes.filter((_, i) => i !== before), "dir-fail");
  assert.notEqual(now, -1, "the meeting was re-created on another server");
  assert.ok(!res.headers.get("location")!.startsWith(h.fakes[before].apiUrl));
});
