/**
 * `bbblb export` and `bbblb import` as an operator runs them, and the schema check every command makes:
 * `./bbblb` as a subprocess with its own temp dir.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SCHEMA_VERSION } from "../src/store/schema.ts";
import { createStore, runBbblb, withTempDir } from "./bbblb_process.ts";

const SECRET = "backup-fake-secret-0123456789";

/** A fresh temporary directory for `fn`, removed afterwards. */
function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("bbblb-backup-", fn);
}

async function addServers(kv: string): Promise<void> {
  await createStore(kv);
  for (const [id, port] of [["1", "1"], ["2", "2"]]) {
    const res = await runBbblb([
      "add-server",
      id,
      `http://127.0.0.1:${port}/bigbluebutton/`,
      SECRET,
      "--no-check",
      "--kv",
      kv,
    ]);
    assert.equal(res.code, 0, res.stderr);
  }
}

Deno.test("export writes a 0600 file with the secrets and warns once; import restores it into a new store", async () => {
  await withDir(async (dir) => {
    await addServers(`${dir}/a.kv`);
    const out = await runBbblb(["export", `${dir}/backup.json`, "--kv", `${dir}/a.kv`]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stdout,
      /^exported 2 server\(s\), 0 tenant\(s\), 0 running meeting\(s\), 0 history row\(s\) to .*backup\.json\n$/,
    );
    assert.equal(out.stderr.trim().split("\n").length, 1);
    assert.match(out.stderr, /holds the servers' secrets/);
    assert.ok(!out.stdout.includes(SECRET) && !out.stderr.includes(SECRET), "a secret was printed");
    assert.equal((await Deno.stat(`${dir}/backup.json`)).mode! & 0o777, 0o600);
    const doc = JSON.parse(await Deno.readTextFile(`${dir}/backup.json`));
    assert.equal(doc.format, "bbblb-export");
    assert.deepEqual(doc.servers.map((s: { secret: string }) => s.secret), [SECRET, SECRET]);

    const imp = await runBbblb(["import", `${dir}/backup.json`, "--kv", `${dir}/b.kv`]);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /^imported 2 server\(s\)/);
    const list = (kv: string) => runBbblb(["list-servers", "--json", "--kv", kv]).then((r) => r.stdout);
    assert.equal(await list(`${dir}/b.kv`), await list(`${dir}/a.kv`));
    assert.equal((await Deno.stat(`${dir}/b.kv`)).mode! & 0o777, 0o600);
  });
});

Deno.test("export without a file writes the JSON to stdout and the warning to stderr", async () => {
  await withDir(async (dir) => {
    await addServers(`${dir}/a.kv`);
    const out = await runBbblb(["export", "--kv", `${dir}/a.kv`]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(JSON.parse(out.stdout).servers.length, 2);
    assert.match(out.stderr, /^bbblb: the export holds the servers' secrets/);
  });
});

Deno.test("import refuses a store that is not empty in one line (exit 1) unless --force", async () => {
  await withDir(async (dir) => {
    await addServers(`${dir}/a.kv`);
    assert.equal((await runBbblb(["export", `${dir}/backup.json`, "--kv", `${dir}/a.kv`])).code, 0);
    const again = await runBbblb(["import", `${dir}/backup.json`, "--kv", `${dir}/a.kv`]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, "");
    assert.match(again.stderr, /^bbblb: the store is not empty; [^\n]*--force[^\n]*\n$/);
    const forced = await runBbblb(["import", `${dir}/backup.json`, "--kv", `${dir}/a.kv`, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
  });
});

Deno.test("import of a file that is not an export is one line and exit 2", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/x.json`, '{"servers": []}');
    const res = await runBbblb(["import", `${dir}/x.json`, "--kv", `${dir}/b.kv`]);
    assert.equal(res.code, 2);
    assert.match(
      res.stderr,
      /^bbblb: not a bbblb export this version can read: "format" is not "bbblb-export"\n$/,
    );
    assert.equal(
      await Deno.stat(`${dir}/b.kv`).then(() => true, () => false),
      false,
      "a bad file created a store",
    );
  });
});

Deno.test("a store from a newer bbblb is refused by every command in one line with exit 1", async () => {
  await withDir(async (dir) => {
    const kv = await Deno.openKv(`${dir}/new.kv`);
    await kv.set(["setting", "schema_version"], 99);
    kv.close();
    for (const args of [["list-servers"], ["serve", "--port", "0"], ["export"]]) {
      const res = await runBbblb([...args, "--kv", `${dir}/new.kv`]);
      assert.equal(res.code, 1, `${args[0]}: ${res.stderr}`);
      assert.match(
        res.stderr,
        new RegExp(
          `^bbblb: the store has schema version 99, newer than this bbblb understands \\(${SCHEMA_VERSION}\\)[^\\n]*\\n$`,
        ),
      );
    }
  });
});
