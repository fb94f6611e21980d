/**
 * `bbblb sync-servers` as an operator runs it: `./bbblb` as a subprocess on a YAML file.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeBbb } from "./fake_bbb.ts";
import { runBbblb } from "./bbblb_process.ts";

Deno.test("sync-servers from a YAML file: --dry-run creates no store, then the sync registers the servers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-sync-" });
  const fake = await FakeBbb.start({ secret: "sync-fake-secret-0123456789" });
  try {
    await Deno.writeTextFile(
      `${dir}/servers.yaml`,
      `servers:\n  - id: 7\n    url: ${fake.url}\n    secret: ${fake.secret}\n    weight: 2\n`,
    );
    const kv = `${dir}/bbblb.kv`;
    const dry = await runBbblb(["sync-servers", `${dir}/servers.yaml`, "--dry-run", "--kv", kv]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr, /^bbblb: there is no store at .* yet: the plan is against an empty one\n$/);
    assert.match(dry.stdout, /^add server 7 /);
    assert.equal(await Deno.stat(kv).then(() => true, () => false), false, "a dry run created a store");
    const run = await runBbblb(["sync-servers", `${dir}/servers.yaml`, "--kv", kv]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, `bbblb: created a new store at ${kv}\n`);
    assert.equal(
      run.stdout,
      `add server 7 (${fake.url}), enabled, weight 2\nsynced: 1 add, 0 update, 0 cordon, 0 remove, 0 unchanged\n`,
    );
    assert.ok(!run.stdout.includes(fake.secret) && !run.stderr.includes(fake.secret));
    const again = await runBbblb(["sync-servers", `${dir}/servers.yaml`, "--dry-run", "--kv", kv]);
    assert.equal(
      again.stdout,
      "server 7 unchanged\ndry run: 0 to add, 0 to update, 0 to cordon, 0 to remove, 1 unchanged; nothing changed\n",
    );
    const bad = await runBbblb(["sync-servers", `${dir}/missing.yaml`, "--kv", kv]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^bbblb: cannot read .*missing\.yaml: [^\n]+\n$/);
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
