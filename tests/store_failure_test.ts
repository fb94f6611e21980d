/**
 * The store failing under a running `./bbblb serve`: the disk full (a small tmpfs filled up), the file locked by
 * another program (sqlite3 holding an exclusive transaction past the commit-retry budget), the file unwritable
 * (the immutable attribute, which stops root too). Each time `serve` answers FAILED with one clear message,
 * never a 500 and never a crash, joins of running meetings keep working, the command line stops with one line,
 * nothing committed before is lost, and everything works again once the cause is gone. Also: the KV file and
 * SQLite's side files are created with mode 0600.
 *
 * These tests need root (mount, chattr; CI runs as root) and Debian's sqlite3, e2fsprogs and mount, which
 * `.ci/run` installs; without them they are reported as ignored with the reason.
 *
 * @module
 */
import assert from "node:assert/strict";
import { openStore } from "../src/store/kv.ts";
import { addServer } from "../src/store/servers.ts";
import { ensureSchema } from "../src/store/schema.ts";
import { runBbblb, type ServeProcess, signedPath, startServe } from "./bbblb_process.ts";
import { FakeBbb } from "./fake_bbb.ts";
import { needing, type Needs } from "./requirements.ts";

const SECRET = "store-failure-secret-0123456789";

const TMPFS: Needs = { root: "it mounts a 4 MiB tmpfs", tools: [{ command: "mount", pkg: "mount" }] };
const IMMUTABLE: Needs = {
  root: "it sets the immutable attribute",
  tools: [{ command: "chattr", pkg: "e2fsprogs" }],
};
const SQLITE: Needs = { tools: [{ command: "sqlite3", pkg: "sqlite3" }] };

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** A store at `kv` with one fake BBB server registered, and `serve` running on it. */
async function cluster(kv: string): Promise<{ fake: FakeBbb; serve: ServeProcess }> {
  const fake = await FakeBbb.start({ secret: "fake-secret" });
  const store = await openStore(kv);
  await ensureSchema(store);
  await addServer(store, {
    id: 1,
    apiUrl: fake.apiUrl,
    secret: fake.secret,
    weight: 1,
    state: "enabled",
    checksum: "sha256",
    addedAt: 0,
  });
  store.close();
  const serve = await startServe({ kv, secret: SECRET, args: ["--request-timeout", "20"] });
  return { fake, serve };
}

async function api(serve: ServeProcess, call: string, query: string): Promise<Response> {
  return await fetch(`${serve.url}api/${signedPath(call, query, SECRET)}`, { redirect: "manual" });
}

async function create(serve: ServeProcess, id: string): Promise<string> {
  return await (await api(serve, "create", `meetingID=${id}&name=Room`)).text();
}

/** What every failure must look like to a front-end: HTTP 200, FAILED serverUnavailable, a reason. */
async function assertFailedCreate(serve: ServeProcess, id: string, reason: RegExp): Promise<void> {
  const res = await api(serve, "create", `meetingID=${id}&name=Room`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /<returncode>FAILED<\/returncode>/);
  assert.match(text, /<messageKey>serverUnavailable<\/messageKey>/);
  assert.match(text, reason);
}

/** What stays true while the store fails: joins of running meetings, and the process itself. */
async function assertStillServing(serve: ServeProcess, runningId: string): Promise<void> {
  const join = await api(serve, "join", `meetingID=${runningId}&fullName=Ann&role=VIEWER`);
  await join.body?.cancel();
  assert.equal(join.status, 302, "a join of a running meeting still redirects");
  const index = await (await fetch(`${serve.url}api/`)).text();
  assert.match(index, /SUCCESS/);
}

/** After `serve` stopped: the meetings it placed are all in the store. */
async function assertKept(kv: string, ids: string[]): Promise<void> {
  const list = await runBbblb(["list-meetings", "--json", "--kv", kv]);
  assert.equal(list.code, 0, list.stderr);
  const found = (JSON.parse(list.stdout) as { meetingID: string }[]).map((m) => m.meetingID).sort();
  assert.deepEqual(found, [...ids].sort());
}

/** The CLI's answer while the store fails: exit 1, one line naming the problem. */
async function assertCliStops(kv: string, reason: RegExp): Promise<void> {
  const r = await runBbblb([
    "add-server",
    "7",
    "http://127.0.0.1:9/bigbluebutton/",
    "s",
    "--no-check",
    "--kv",
    kv,
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, reason);
}

function assertNoStackTrace(serve: ServeProcess): void {
  assert.doesNotMatch(serve.stderr, /\n\s+at .+:\d+:\d+/, "serve logged a stack trace");
  assert.doesNotMatch(serve.stderr, /internal error/);
}

Deno.test(
  needing(
    TMPFS,
    "a full disk: serve answers FAILED and recovers, the CLI stops in one line, nothing is lost",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "bbblb-full-" });
      const mnt = `${dir}/mnt`;
      await Deno.mkdir(mnt);
      await run("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mnt]);
      const kv = `${mnt}/bbblb.kv`;
      let serve: ServeProcess | undefined;
      let fake: FakeBbb | undefined;
      try {
        ({ fake, serve } = await cluster(kv));
        assert.match(await create(serve, "before-full"), /SUCCESS/);
        const filler = await Deno.open(`${mnt}/filler`, { create: true, write: true });
        try {
          for (const chunk = new Uint8Array(64 * 1024);;) await filler.write(chunk);
        } catch (e) {
          assert.match((e as Error).message, /No space left/);
        } finally {
          filler.close();
        }

        await assertFailedCreate(serve, "while-full", /disk holding the store is full/);
        assert.equal(fake.meetings.has("while-full"), false, "nothing reached BBB");
        await assertStillServing(serve, "before-full");
        await assertCliStops(kv, /stopped: the disk holding the store is full/);

        await Deno.remove(`${mnt}/filler`);
        assert.match(await create(serve, "after-full"), /SUCCESS/);
        assert.equal((await serve.terminate()).code, 0);
        assertNoStackTrace(serve);
        await assertKept(kv, ["before-full", "after-full"]);
      } finally {
        await serve?.kill();
        await fake?.close();
        await run("umount", [mnt]).catch(() => run("umount", ["-l", mnt]));
        await Deno.remove(dir, { recursive: true });
      }
    },
  ),
);

Deno.test(
  needing(
    SQLITE,
    "the store locked by another program: FAILED within the retry budget, CLI stops, then recovers",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "bbblb-locked-" });
      const kv = `${dir}/bbblb.kv`;
      let serve: ServeProcess | undefined;
      let fake: FakeBbb | undefined;
      let holder: Deno.ChildProcess | undefined;
      try {
        ({ fake, serve } = await cluster(kv));
        assert.match(await create(serve, "before-lock"), /SUCCESS/);
        // sqlite3 (Debian's) takes the write lock and keeps it until told otherwise.
        holder = new Deno.Command("sqlite3", { args: [kv], stdin: "piped", stdout: "piped", stderr: "piped" })
          .spawn();
        const stdin = holder.stdin.getWriter();
        await stdin.write(new TextEncoder().encode("BEGIN EXCLUSIVE;\nSELECT 'locked';\n"));
        const reader = holder.stdout.getReader();
        assert.match(new TextDecoder().decode((await reader.read()).value), /locked/);

        const started = Date.now();
        await assertFailedCreate(serve, "while-locked", /locked by another program \(gave up after/);
        assert.ok(
          Date.now() - started < 15_000,
          "answered within the retry budget, well before the request timeout",
        );
        assert.equal(fake.meetings.has("while-locked"), false);
        await assertStillServing(serve, "before-lock");
        // A new connection cannot even read a store locked this way: the CLI gives up after 10 s.
        await assertCliStops(kv, /stopped: .*locked by another program/);

        await stdin.write(new TextEncoder().encode("ROLLBACK;\n.quit\n"));
        await stdin.close();
        reader.releaseLock();
        await holder.stdout.cancel();
        await holder.status;
        holder = undefined;
        assert.match(await create(serve, "after-lock"), /SUCCESS/);
        assert.equal((await serve.terminate()).code, 0);
        assertNoStackTrace(serve);
        await assertKept(kv, ["before-lock", "after-lock"]);
      } finally {
        if (holder) {
          holder.kill("SIGKILL");
          await holder.status;
        }
        await serve?.kill();
        await fake?.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  ),
);

Deno.test(
  needing(
    IMMUTABLE,
    "the store made unwritable under serve: FAILED, the CLI stops in one line, nothing is lost",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "bbblb-immutable-" });
      const kv = `${dir}/bbblb.kv`;
      let serve: ServeProcess | undefined;
      let fake: FakeBbb | undefined;
      // The immutable attribute on the database and its write-ahead log stops every writer, root included (a
      // read-only mount cannot be had while serve holds the files open). The -shm file is left alone: SQLite maps
      // it into memory, and a write to it would kill the process with SIGBUS — no program could answer that.
      const files = [kv, `${kv}-wal`];
      try {
        ({ fake, serve } = await cluster(kv));
        assert.match(await create(serve, "before-lock"), /SUCCESS/);
        await run("chattr", ["+i", ...files]).catch((e) => {
          throw new Error(`chattr +i failed (the file system must support it, as ext4 does): ${e.message}`);
        });
        await assertFailedCreate(serve, "while-immutable", /cannot be written/);
        assert.equal(fake.meetings.has("while-immutable"), false);
        await assertStillServing(serve, "before-lock");
        const cli = await runBbblb([
          "add-server",
          "7",
          "http://127.0.0.1:9/bigbluebutton/",
          "s",
          "--no-check",
          "--kv",
          kv,
        ]);
        assert.equal(cli.code, 1, cli.stderr);
        assert.equal(cli.stderr.trim().split("\n").length, 1, cli.stderr);
        assert.match(cli.stderr, /stopped: the store's file cannot be written/);

        await run("chattr", ["-i", ...files]);
        assert.match(await create(serve, "after-unlock"), /SUCCESS/);
        assert.equal((await serve.terminate()).code, 0);
        assertNoStackTrace(serve);
        await assertKept(kv, ["before-lock", "after-unlock"]);
      } finally {
        await run("chattr", ["-i", ...files]).catch(() => {});
        await serve?.kill();
        await fake?.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  ),
);

Deno.test("the KV file and SQLite's -wal and -shm files are created with mode 0600", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-mode-" });
  const kv = `${dir}/bbblb.kv`;
  try {
    const serve = await startServe({ kv, secret: SECRET });
    try {
      for (const f of [kv, `${kv}-wal`, `${kv}-shm`]) {
        assert.equal((await Deno.stat(f)).mode! & 0o777, 0o600, f);
      }
    } finally {
      await serve.terminate();
    }
    const added = await runBbblb(["sync-servers", "-", "--no-check", "--kv", `${dir}/b.kv`], {
      stdin: JSON.stringify([{ id: 1, url: "http://127.0.0.1:9/", secret: "s" }]),
    });
    assert.equal(added.code, 0, added.stderr);
    assert.equal((await Deno.stat(`${dir}/b.kv`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
