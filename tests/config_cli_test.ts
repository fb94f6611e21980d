/**
 * The config file and `bbblb config` as an operator meets them: `./bbblb` as a subprocess with its own temp
 * dir. `config` shows where each value came from and never a secret; `serve --config FILE` runs with the
 * file's settings; a bad file is one line on stderr naming the key and the line, and exit status 2.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runBbblb, signedPath, startServe, withTempDir } from "./bbblb_process.ts";

/** A fresh temporary directory for `fn`, removed afterwards. */
function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("bbblb-config-", fn);
}

const FILE_SECRET = "file-secret-0123456789abcdef";
const TOKEN = "admin-token-0123456789abcdef";

Deno.test("bbblb config shows each setting with its source and masks every secret", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/bbblb.env`,
      `# settings\nPORT=9001\nSECRET=${FILE_SECRET}\nBBBLB_ADMIN_TOKEN=${TOKEN}\nLOG_LEVEL=debug\n`,
    );
    const res = await runBbblb([
      "config",
      "--config",
      `${dir}/bbblb.env`,
      "--kv",
      `${dir}/bbblb.kv`,
      "--port",
      "9003",
    ], {
      env: { BBBLB_LOG_LEVEL: "warn" },
    });
    assert.equal(res.code, 0, res.stderr);
    const line = (name: string) => res.stdout.split("\n").find((l) => l.startsWith(`${name}=`)) ?? "";
    assert.match(line("BBBLB_PORT"), /^BBBLB_PORT=9003\s+# flag$/);
    assert.match(line("BBBLB_LOG_LEVEL"), /^BBBLB_LOG_LEVEL=warn\s+# environment$/);
    assert.match(line("BBBLB_SECRET"), /^BBBLB_SECRET=\*{8}\s+# file .*bbblb\.env:3$/);
    assert.match(line("BBBLB_ADMIN_TOKEN"), /^BBBLB_ADMIN_TOKEN=\*{8}\s+# file .*bbblb\.env:4$/);
    assert.match(line("BBBLB_POLL_INTERVAL"), /^BBBLB_POLL_INTERVAL=10\s+# default$/);
    assert.ok(!res.stdout.includes(FILE_SECRET) && !res.stdout.includes(TOKEN), "a secret was printed");
    assert.ok(!res.stderr.includes(FILE_SECRET) && !res.stderr.includes(TOKEN), "a secret was printed");
    // config never creates a store
    assert.equal(await Deno.stat(`${dir}/bbblb.kv`).then(() => true, () => false), false);
  });
});

Deno.test("BBBLB_CONFIG names the file like --config does", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bbblb.env`, "HOST=0.0.0.0\n");
    const res = await runBbblb(["config", "--kv", `${dir}/bbblb.kv`], {
      env: { BBBLB_CONFIG: `${dir}/bbblb.env` },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^BBBLB_HOST=0\.0\.0\.0\s+# file .*bbblb\.env:1$/m);
  });
});

Deno.test("an unknown key in the config file stops serve with one line naming key and line, exit 2", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bbblb.env`, "PORT=9001\nBBBLB_PROT=9002\n");
    const res = await runBbblb(["serve", "--config", `${dir}/bbblb.env`, "--kv", `${dir}/bbblb.kv`]);
    assert.equal(res.code, 2);
    assert.equal(res.stdout, "");
    assert.equal(res.stderr.trim(), `bbblb: ${dir}/bbblb.env:2: unknown setting "BBBLB_PROT"`);
  });
});

Deno.test("a missing config file stops serve with one line and exit 2", async () => {
  await withDir(async (dir) => {
    const res = await runBbblb(["serve", "--config", `${dir}/nope.env`, "--kv", `${dir}/bbblb.kv`]);
    assert.equal(res.code, 2);
    assert.match(res.stderr.trim(), /^bbblb: --config \/ BBBLB_CONFIG: cannot read .*nope\.env: [^\n]+$/);
  });
});

Deno.test("serve --config runs with the file's secret, and bbblb config then shows the stored secret masked", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bbblb.env`, `SECRET=${FILE_SECRET}\n`);
    const serve = await startServe({ kv: `${dir}/bbblb.kv`, args: ["--config", `${dir}/bbblb.env`] });
    try {
      const res = await fetch(`${serve.url}api/${signedPath("getMeetings", "", FILE_SECRET)}`);
      assert.match(await res.text(), /<returncode>SUCCESS<\/returncode>/);
    } finally {
      await serve.terminate();
    }
    // A serve without any configured secret generates one and keeps it; config reports it as stored, masked.
    const gen = await startServe({ kv: `${dir}/gen.kv` });
    await gen.terminate();
    const res = await runBbblb(["config", "--kv", `${dir}/gen.kv`]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^BBBLB_SECRET=\*{8}\s+# store \(generated at the first start\)$/m);
    const generated = gen.stderr.split("\n").find((l) => /^[A-Za-z0-9]{48}$/.test(l));
    assert.ok(generated, "serve did not announce its generated secret");
    assert.ok(!res.stdout.includes(generated));
  });
});
