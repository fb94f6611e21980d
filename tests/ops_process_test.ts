/**
 * Operations of a running `./bbblb serve` as a monitor and an operator see them: `/healthz`, `/metrics` behind
 * the admin token with the poller's rounds in it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeBbb } from "./fake_bbb.ts";
import { runBbblb, startServe } from "./bbblb_process.ts";

const TOKEN = "ops-admin-token-0123456789";

Deno.test("serve: /healthz follows the servers, /metrics needs the token and shows the poll rounds", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-ops-" });
  const fake = await FakeBbb.start({ secret: "ops-fake-secret-0123456789" });
  const serve = await startServe({
    kv: `${dir}/bbblb.kv`,
    secret: "ops-api-secret-0123456789",
    args: ["--admin-token", TOKEN, "--poll-interval", "1"],
  });
  try {
    const base = `http://127.0.0.1:${serve.port}`;
    const before = await fetch(`${base}/healthz`);
    assert.equal(before.status, 503);
    assert.equal(await before.text(), "unhealthy: no server is registered\n");

    const add = await runBbblb(["add-server", "1", fake.url, fake.secret, "--kv", `${dir}/bbblb.kv`]);
    assert.equal(add.code, 0, add.stderr);
    const after = await fetch(`${base}/healthz`);
    assert.equal(after.status, 200, await after.clone().text());
    assert.equal(await after.text(), "ok: 1 of 1 server(s) online and enabled\n");

    const denied = await fetch(`${base}/metrics`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    // The poller (interval 1 s) shows up in the metrics once it has run a round.
    let text = "";
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 200);
      text = await res.text();
      if (/^bbblb_poll_round_duration_seconds_count [1-9]/m.test(text)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(text, /^bbblb_poll_round_duration_seconds_count [1-9]/m, text);
    assert.match(text, /^bbblb_server_online\{server="1"\} 1$/m);
  } finally {
    await serve.kill();
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
