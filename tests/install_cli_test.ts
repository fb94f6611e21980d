/**
 * `bbblb install --root DIR` as an operator meets it on a fresh VM (the root prefix stands for `/`): the unit
 * passes `systemd-analyze verify`, the env file is root-only with a generated secret, a second run keeps the env
 * file and the unit, `--force` replaces the unit, `--dry-run` writes nothing. And the admin commands read the
 * service's env file by default (a test-only variable points them at a copy, never at the real `/etc`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createStore, ROOT, runBbblb, withTempDir } from "./bbblb_process.ts";
import { needing, SYSTEMD_ANALYZE } from "./requirements.ts";
import { openStore } from "../src/store/kv.ts";
import { resolveSecrets } from "../src/store/settings.ts";

const UNIT = "/etc/systemd/system/bbblb.service";
const ENV = "/etc/bbblb/bbblb.env";

/** A fresh temporary directory for `fn`, removed afterwards. */
function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("bbblb-install-", fn);
}

async function mode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

async function install(dir: string, ...args: string[]) {
  return await runBbblb(["install", "--root", dir, "--url", "https://lb.example.org", ...args]);
}

Deno.test("bbblb install lays out unit, root-only env file with a generated secret, state directory and store", async () => {
  await withDir(async (dir) => {
    const res = await install(dir);
    assert.equal(res.code, 0, res.stderr);
    const unit = await Deno.readTextFile(`${dir}${UNIT}`);
    // ./bbblb ran install, so the unit runs ./bbblb (a compiled binary puts its own path there).
    assert.match(unit, new RegExp(`^ExecStart=${ROOT.pathname}bbblb serve$`, "m"));
    assert.match(unit, /^EnvironmentFile=-\/etc\/bbblb\/bbblb\.env$/m);
    assert.equal(await mode(`${dir}${UNIT}`), 0o644);
    assert.equal(await mode(`${dir}/etc/bbblb`), 0o700);
    assert.equal(await mode(`${dir}${ENV}`), 0o600);
    const env = await Deno.readTextFile(`${dir}${ENV}`);
    assert.match(env, /^BBBLB_URL=https:\/\/lb\.example\.org$/m);
    assert.match(env, /^BBBLB_KV=\/var\/lib\/bbblb\/bbblb\.kv$/m);
    const secret = env.match(/^BBBLB_SECRET=([A-Za-z0-9]{48})$/m)?.[1];
    assert.ok(secret, "no generated secret in the env file");
    assert.match(env, /^# BBBLB_LOG_LEVEL=info$/m);
    assert.equal(await mode(`${dir}/var/lib/bbblb`), 0o700);
    assert.equal(await mode(`${dir}/var/lib/bbblb/bbblb.kv`), 0o600);
    assert.match(res.stderr, /created a new store at .*\/var\/lib\/bbblb\/bbblb\.kv/);
    assert.match(res.stdout, /systemctl daemon-reload && systemctl enable --now bbblb/);
    assert.match(res.stdout, /bbblb add-server/);
    assert.match(res.stdout, /https:\/\/lb\.example\.org\/bigbluebutton\//);
    assert.ok(!res.stdout.includes(secret) && !res.stderr.includes(secret), "install printed the secret");

    // The store install created is one the admin commands accept.
    const servers = await runBbblb(["list-servers", "--json", "--kv", `${dir}/var/lib/bbblb/bbblb.kv`]);
    assert.equal(servers.code, 0, servers.stderr);
    assert.equal(servers.stdout.trim(), "[]");

    // A second run never overwrites the env file (its secret is the front-ends'), and keeps the unit.
    const again = await install(dir);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await Deno.readTextFile(`${dir}${ENV}`), env);
    assert.match(again.stdout, /kept \/etc\/bbblb\/bbblb\.env/);
    assert.match(again.stdout, /kept \/etc\/systemd\/system\/bbblb\.service \(already/);
    assert.equal(again.stderr, "", "a second run created something");

    // An edited unit is kept unless --force; --force replaces it (and still keeps the env file).
    await Deno.writeTextFile(`${dir}${UNIT}`, unit.replace("LimitNOFILE=65536", "LimitNOFILE=1024"));
    const kept = await install(dir);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(
      kept.stdout,
      /kept \/etc\/systemd\/system\/bbblb\.service: it differs .* --force replaces it/,
    );
    assert.match(await Deno.readTextFile(`${dir}${UNIT}`), /LimitNOFILE=1024/);
    const forced = await install(dir, "--force");
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await Deno.readTextFile(`${dir}${UNIT}`), unit);
    assert.equal(await Deno.readTextFile(`${dir}${ENV}`), env);
  });
});

Deno.test(
  needing(
    { tools: [SYSTEMD_ANALYZE] },
    "the unit bbblb install writes passes systemd-analyze verify",
    async () => {
      await withDir(async (dir) => {
        assert.equal((await install(dir)).code, 0);
        const out = await new Deno.Command("systemd-analyze", {
          args: ["verify", `${dir}${UNIT}`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, stderr);
        assert.equal(stderr.trim(), "", `systemd-analyze verify warned:\n${stderr}`);
      });
    },
  ),
);

Deno.test("bbblb install --dry-run prints the plan and writes nothing; a bad --url is one line, exit 2", async () => {
  await withDir(async (dir) => {
    const res = await install(dir, "--dry-run");
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /would write \/etc\/systemd\/system\/bbblb\.service/);
    assert.match(res.stdout, /would write \/etc\/bbblb\/bbblb\.env/);
    assert.match(res.stdout, /would create the store \/var\/lib\/bbblb\/bbblb\.kv/);
    assert.match(res.stdout, /\ndry run: nothing written\n$/);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
    const bad = await runBbblb(["install", "--root", dir, "--url", "ftp://lb.example.org"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'bbblb: --url: "ftp://lb.example.org" is not an http(s) URL\n');
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });
});

Deno.test("admin commands read the service's env file by default and config names that file and the store", async () => {
  await withDir(async (dir) => {
    const kv = `${dir}/service.kv`;
    await createStore(kv);
    // The same file systemd reads: other programs' keys are allowed in it.
    await Deno.writeTextFile(
      `${dir}/bbblb.env`,
      `BBBLB_KV=${kv}\nBBBLB_SECRET=env-secret-0123456789\nDENO_V8_FLAGS=--optimize-for-size\n`,
    );
    const env = { BBBLB_DEFAULT_CONFIG: `${dir}/bbblb.env` };
    const added = await runBbblb([
      "add-server",
      "1",
      "http://127.0.0.1:9/bigbluebutton/",
      "s3cret",
      "--no-check",
    ], {
      env,
    });
    assert.equal(added.code, 0, added.stderr);
    const listed = await runBbblb(["list-servers", "--kv", kv, "--json"]);
    assert.deepEqual(JSON.parse(listed.stdout).map((r: { id: number }) => r.id), [1]);

    const config = await runBbblb(["config"], { env });
    assert.equal(config.code, 0, config.stderr);
    const lines = config.stdout.split("\n");
    assert.equal(lines[0], `# config file: ${dir}/bbblb.env (the default: BBBLB_CONFIG is not set)`);
    assert.equal(lines[1], `# store: ${kv} (exists)`);
    assert.match(config.stdout, /^BBBLB_SECRET=\*{8}\s+# file .*bbblb\.env:2$/m);
    assert.match(
      config.stdout,
      /^# not bbblb settings, left to the environment: DENO_V8_FLAGS \(.*bbblb\.env:3\)$/m,
    );
    assert.ok(!config.stdout.includes("env-secret-0123456789"));
    const shown = await runBbblb(["config", "--show-secrets"], { env });
    assert.match(shown.stdout, /^BBBLB_SECRET=env-secret-0123456789\s+# file/m);

    // BBBLB_CONFIG set but empty (as the unit sets it for serve): no file at all.
    const none = await runBbblb(["config", "--kv", kv], { env: { ...env, BBBLB_CONFIG: "" } });
    assert.equal(none.stdout.split("\n")[0], "# config file: none (BBBLB_CONFIG is set and empty)");

    // A default file that cannot be read stops every command in one line, exit 1 (here: a directory).
    const unreadable = await runBbblb(["list-servers"], { env: { BBBLB_DEFAULT_CONFIG: dir } });
    assert.equal(unreadable.code, 1);
    assert.match(
      unreadable.stderr,
      /^bbblb: cannot read .*, the settings of the bbblb service \(.*\): run this as root/,
    );
    assert.equal(unreadable.stderr.split("\n").filter((l) => l).length, 1);
  });
});

Deno.test("bbblb config --show-secrets prints the generated secret serve keeps, which config masks otherwise", async () => {
  await withDir(async (dir) => {
    const kv = `${dir}/bbblb.kv`;
    await createStore(kv);
    // What serve does on its first start without a configured secret.
    const store = await openStore(kv, false);
    const [generated] = await resolveSecrets(store, [], () => {});
    store.close();
    const masked = await runBbblb(["config", "--kv", kv]);
    assert.match(masked.stdout, /^BBBLB_SECRET=\*{8}\s+# store \(generated at the first start\)$/m);
    assert.ok(!masked.stdout.includes(generated));
    const shown = await runBbblb([
      "config",
      "--kv",
      kv,
      "--show-secrets",
      "--admin-token",
      "token-0123456789abcdef",
    ]);
    assert.ok(shown.stdout.includes(`BBBLB_SECRET=${generated} `), shown.stdout);
    assert.match(shown.stdout, /^BBBLB_ADMIN_TOKEN=token-0123456789abcdef\s+# flag$/m);
  });
});
