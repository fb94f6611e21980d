/**
 * The limits an operator sets: the request body limit, the request timeout, and the per-server meeting cap
 * (`--max-meetings`) that placement respects. In-process where the app decides, over a socket for a client that
 * drips its body, and through `./bbblb` for the flags.
 *
 * @module
 */
import assert from "node:assert/strict";
import { updateServer } from "../src/store/servers.ts";
import { holder, setup, sign, tag } from "./harness.ts";
import { createStore, runBbblb } from "./bbblb_process.ts";

Deno.test("a body over --max-body is FAILED requestTooLarge; one under it reaches the server", async () => {
  await using h = await setup({ servers: 1, maxBodyBytes: 4096 });
  const post = async (size: number, id: string) =>
    await (await h.app.request(`/bigbluebutton/api/create?${sign("create", `meetingID=${id}&name=Slides`)}`, {
      method: "POST",
      headers: { "content-type": "application/xml" },
      body: `<modules><module name="presentation">${" ".repeat(size)}</module></modules>`,
    })).text();
  const big = await post(8000, "too-big");
  assert.equal(tag(big, "messageKey"), "requestTooLarge");
  assert.match(tag(big, "message") ?? "", /4096 bytes/);
  assert.equal(h.fakes[0].meetings.has("too-big"), false);
  assert.equal(tag(await post(1000, "fits"), "returncode"), "SUCCESS");
});

Deno.test("a request that takes longer than the request timeout is FAILED serverUnavailable, in time", async () => {
  await using h = await setup({ servers: 1, backendTimeoutMs: 10_000, requestTimeoutMs: 300 });
  h.fakes[0].mode = "hang";
  const started = performance.now();
  const text = await h.text("getMeetings");
  const took = performance.now() - started;
  assert.equal(tag(text, "messageKey"), "serverUnavailable");
  assert.match(tag(text, "message") ?? "", /within 0\.3 s/);
  assert.ok(took < 3000, `answered after ${took} ms`);
  h.fakes[0].mode = "ok";
});

Deno.test("a client dripping its body slower than the request timeout gets FAILED serverUnavailable", async () => {
  await using h = await setup({ servers: 1, requestTimeoutMs: 500 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, h.app.fetch);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    const target = `/bigbluebutton/api/create?${sign("create", "meetingID=drip&name=Drip")}`;
    await conn.write(
      new TextEncoder().encode(
        `POST ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/xml\r\n` +
          "content-length: 100000\r\nconnection: close\r\n\r\n<modules>",
      ),
    );
    // A byte every 100 ms, for longer than the timeout; the answer must come anyway.
    let answer = "";
    const reading = (async () => {
      const buf = new Uint8Array(4096);
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) return;
        answer += new TextDecoder().decode(buf.subarray(0, n));
        if (answer.includes("</response>")) return;
      }
    })();
    for (let i = 0; i < 30 && !answer.includes("</response>"); i++) {
      await conn.write(new TextEncoder().encode(" ")).catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
    await reading;
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.equal(tag(answer, "messageKey"), "serverUnavailable");
    assert.equal(h.fakes[0].meetings.has("drip"), false);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
    await server.shutdown();
  }
});

Deno.test("placement skips a server at its meeting cap; all at their caps is FAILED limitExceeded", async () => {
  await using h = await setup({ servers: 2 });
  await updateServer(h.kv, 1, { maxMeetings: 1 });
  await updateServer(h.kv, 2, { maxMeetings: 2 });
  for (const id of ["cap-a", "cap-b", "cap-c"]) {
    assert.equal(tag(await h.text("create", { meetingID: id, name: "Room" }), "returncode"), "SUCCESS", id);
  }
  assert.equal(h.fakes[0].meetings.size, 1);
  assert.equal(h.fakes[1].meetings.size, 2);
  const full = await h.text("create", { meetingID: "cap-d", name: "Room" });
  assert.equal(tag(full, "messageKey"), "limitExceeded");
  assert.match(tag(full, "message") ?? "", /All 2 BBB server\(s\) .* meeting cap/);
  // A repeated create of a running meeting is not a new meeting: it still works.
  assert.equal(tag(await h.text("create", { meetingID: "cap-a", name: "Room" }), "returncode"), "SUCCESS");
  // An admin's move to a full server is refused; an ended meeting frees a place.
  const onOne = holder(h.fakes, "cap-a") === 0 ? "cap-a" : holder(h.fakes, "cap-b") === 0 ? "cap-b" : "cap-c";
  const onTwo = ["cap-a", "cap-b", "cap-c"].find((id) => holder(h.fakes, id) === 1)!;
  assert.equal(
    tag(await h.text("move", { meetingID: onTwo, serverID: "1" }), "messageKey"),
    "serverNotEligible",
  );
  assert.equal(tag(await h.text("end", { meetingID: onOne }), "returncode"), "SUCCESS");
  assert.equal(tag(await h.text("create", { meetingID: "cap-d", name: "Room" }), "returncode"), "SUCCESS");
  assert.equal(holder(h.fakes, "cap-d"), 0);
  // Lifting the cap takes effect on the next create.
  await updateServer(h.kv, 2, { maxMeetings: null });
  assert.equal(tag(await h.text("create", { meetingID: "cap-e", name: "Room" }), "returncode"), "SUCCESS");
  assert.equal(holder(h.fakes, "cap-e"), 1);
});

Deno.test("add-server and set-server --max-meetings: shown by list-servers, bad values exit 2 in one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-limits-" });
  const kv = `${dir}/bbblb.kv`;
  try {
    await createStore(kv);
    const add = await runBbblb([
      "add-server",
      "1",
      "http://127.0.0.1:9/bigbluebutton/",
      "s3cret-value",
      "--no-check",
      "--max-meetings",
      "40",
      "--kv",
      kv,
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /at most 40 meetings/);
    const table = await runBbblb(["list-servers", "--kv", kv]);
    assert.match(table.stdout, /\bMAX\b/);
    assert.match(table.stdout.split("\n")[1], /\s40\s/);
    const set = await runBbblb(["set-server", "1", "--max-meetings", "none", "--kv", kv]);
    assert.equal(set.code, 0, set.stderr);
    const json = JSON.parse((await runBbblb(["list-servers", "--json", "--kv", kv])).stdout);
    assert.equal(json[0].maxMeetings, null);
    for (const bad of ["0", "-3", "many", "1.5"]) {
      const r = await runBbblb(["set-server", "1", "--max-meetings", bad, "--kv", kv]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.match(r.stderr, /--max-meetings/);
    }
    const none = await runBbblb([
      "add-server",
      "2",
      "http://127.0.0.1:10/bigbluebutton/",
      "s",
      "--no-check",
      "--max-meetings",
      "none",
      "--kv",
      kv,
    ]);
    assert.equal(none.code, 2, "add-server has no cap to lift");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve refuses a bad --max-body or --request-timeout in one line, exit 2; config shows both", async () => {
  for (
    const [flag, value] of [["--max-body", "lots"], ["--max-body", "10"], ["--request-timeout", "0"], [
      "--request-timeout",
      "x",
    ]]
  ) {
    const r = await runBbblb(["serve", flag, value, "--kv", "/nonexistent/never-created.kv"]);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, new RegExp(flag));
  }
  const shown = await runBbblb(["config", "--max-body", "1048576"], { env: { BBBLB_REQUEST_TIMEOUT: "12" } });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^BBBLB_MAX_BODY=1048576 .*flag/m);
  assert.match(shown.stdout, /^BBBLB_REQUEST_TIMEOUT=12 .*environment/m);
});
