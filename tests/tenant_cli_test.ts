/**
 * `bbblb tenant …` as an operator meets it: `./bbblb` as a subprocess on its own KV file. A generated secret is
 * shown once and never listed; mistakes are one line on stderr (exit 2 for bad values, 1 when refused); a
 * tenant added while `serve` runs can call the API within two seconds; a tenant with running meetings is not
 * removed without --force; list-meetings names each meeting's tenant.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeBbb } from "./fake_bbb.ts";
import { type CliResult, createStore, runBbblb, signedPath, startServe } from "./bbblb_process.ts";

const GLOBAL = "global-secret-0123456789";

async function withKv(fn: (kv: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-tenant-" });
  try {
    await createStore(`${dir}/bbblb.kv`);
    await fn(`${dir}/bbblb.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * GET `url` until `done(body)` (a change made by an admin command reaches `serve` within about two seconds; the
 * deadline here is generous, since this is not a speed test). Returns the last body.
 */
async function eventually(url: string, done: (body: string) => boolean): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const body = await (await fetch(url)).text();
    if (done(body) || Date.now() > deadline) return body;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function assertOneLineError(res: CliResult, code: number, pattern: RegExp): void {
  assert.equal(res.code, code, `exit ${res.code}; stderr: ${res.stderr}`);
  assert.equal(res.stdout, "");
  const lines = res.stderr.split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `not one line on stderr:\n${res.stderr}`);
  assert.match(lines[0], pattern);
}

Deno.test("tenant add shows a generated secret once; tenant list shows how many secrets, never one", async () => {
  await withKv(async (kv) => {
    assert.equal(
      (await runBbblb([
        "add-server",
        "1",
        "http://127.0.0.1:9/bigbluebutton/",
        "s3cret-s3cret",
        "--no-check",
        "--kv",
        kv,
      ])).code,
      0,
    );
    const added = await runBbblb(["tenant", "add", "law", "--kv", kv]);
    assert.equal(added.code, 0, added.stderr);
    const secret = added.stdout.trim().split("\n").at(-1)!;
    assert.match(secret, /^[A-Za-z0-9]{48}$/);
    const med = await runBbblb([
      "tenant",
      "add",
      "med",
      "--secret",
      "-",
      "--host",
      "Med.Example.org",
      "--kv",
      kv,
    ], {
      stdin: "med-secret-123456\n",
    });
    assert.equal(med.stdout.trim(), "added tenant med (host med.example.org) with 1 secret(s)");
    const set = await runBbblb([
      "tenant",
      "set",
      "med",
      "--add-secret",
      "med-secret-rotated",
      "--create-cap",
      "maxParticipants=50",
      "--max-meetings",
      "10",
      "--default-tag",
      "lecture",
      "--kv",
      kv,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.doesNotMatch(set.stdout, /med-secret/);
    const list = await runBbblb(["tenant", "list", "--kv", kv]);
    assert.doesNotMatch(list.stdout, new RegExp(`${secret}|med-secret`));
    assert.match(list.stdout, /^med\s+med\.example\.org\s+2\s+lecture\s+1\s+10\s+-\s+0\s+-$/m);
    const rows = JSON.parse((await runBbblb(["tenant", "list", "--json", "--kv", kv])).stdout);
    assert.deepEqual(rows.map((r: { name: string }) => r.name), ["default", "law", "med"]);
    assert.equal(rows[2].secrets, 2);
    assert.deepEqual(rows[2].create, [{ op: "cap", name: "maxParticipants", value: "50" }]);
    assert.doesNotMatch(JSON.stringify(rows), /med-secret|[A-Za-z0-9]{48}/);
  });
});

Deno.test("tenant commands refuse mistakes with one line: exit 2 for bad values, 1 when refused", async () => {
  await withKv(async (kv) => {
    await runBbblb([
      "add-server",
      "1",
      "http://127.0.0.1:9/bigbluebutton/",
      "s3cret-s3cret",
      "--no-check",
      "--kv",
      kv,
    ]);
    await runBbblb([
      "tenant",
      "add",
      "law",
      "--secret",
      "law-secret-1234",
      "--host",
      "law.example.org",
      "--kv",
      kv,
    ]);
    const cases: [string[], number, RegExp][] = [
      [["tenant", "add", "Law"], 2, /not a tenant name/],
      [["tenant", "add", "default"], 2, /reserved/],
      [["tenant", "add", "med", "--secret", "short"], 2, /at least 8 characters/],
      [["tenant", "add", "law"], 1, /already exists/],
      [["tenant", "add", "med", "--secret", "law-secret-1234"], 1, /already a secret of tenant law/],
      [["tenant", "add", "med", "--host", "law.example.org"], 1, /already has the host/],
      [["tenant", "add", "med", "--host", "https://med.example.org/"], 2, /not a host name/],
      [["tenant", "set", "law", "--max-meetings", "many"], 2, /--max-meetings/],
      [["tenant", "set", "law", "--create-cap", "duration=long"], 2, /--create-cap/],
      [["tenant", "set", "law", "--create-force", "meetingID=x"], 2, /sets meetingID itself/],
      [["tenant", "set", "law", "--remove-secret", "law-secret-1234"], 1, /at least one secret/],
      [["tenant", "set", "default", "--secret", "default-secret"], 2, /BBBLB_SECRET/],
      [["tenant", "set", "nobody", "--max-meetings", "1"], 1, /no tenant nobody/],
      [["tenant", "set", "law"], 2, /nothing to change/],
      [["tenant", "set", "law", "--bogus"], 2, /unknown option/],
      [["tenant", "remove", "default"], 1, /cannot be removed/],
      [["tenant", "remove", "nobody"], 1, /no tenant nobody/],
    ];
    for (const [args, code, pattern] of cases) {
      const res = await runBbblb([...args, "--kv", kv]);
      assertOneLineError(res, code, pattern);
      assert.doesNotMatch(res.stderr, /law-secret-1234/);
    }
  });
});

Deno.test("a tenant added while serve runs can create within two seconds; remove waits for its meetings", async () => {
  await withKv(async (kv) => {
    const fake = await FakeBbb.start({ secret: "fake-secret-1" });
    try {
      await runBbblb(["add-server", "1", fake.url, fake.secret, "--kv", kv]);
      const serve = await startServe({ kv, secret: GLOBAL });
      try {
        await runBbblb(["tenant", "add", "law", "--secret", "law-secret-1234", "--kv", kv]);
        const create = signedPath("create", "meetingID=room&name=Law%20room", "law-secret-1234");
        const body = await eventually(`${serve.url}api/${create}`, (t) => !t.includes("checksumError"));
        assert.match(body, /<returncode>SUCCESS<\/returncode>/);
        assert.match(body, /<meetingID>room<\/meetingID>/);
        assert.ok(fake.meetings.has("law~room"));

        assertOneLineError(await runBbblb(["tenant", "remove", "law", "--kv", kv]), 1, /1 running meeting/);
        const meetings = await runBbblb(["list-meetings", "--kv", kv]);
        assert.match(meetings.stdout, /^TENANT\s+MEETING ID/);
        assert.match(meetings.stdout, /^law\s+room\s+1\s/m);
        const removed = await runBbblb(["tenant", "remove", "law", "--force", "--kv", kv]);
        assert.equal(removed.code, 0, removed.stderr);
        const running = `${serve.url}api/${
          signedPath("isMeetingRunning", "meetingID=room", "law-secret-1234")
        }`;
        assert.match(await eventually(running, (t) => t.includes("checksumError")), /checksumError/);
      } finally {
        await serve.kill();
      }
    } finally {
      await fake.close();
    }
  });
});

Deno.test("tenant set --block, --url-host and --callback-host set a policy that tenant list shows", async () => {
  await withKv(async (kv) => {
    assert.equal(
      (await runBbblb(["tenant", "add", "law", "--secret", "law-secret-0123456789", "--kv", kv])).code,
      0,
    );
    const set = await runBbblb([
      "tenant",
      "set",
      "law",
      "--block",
      "pluginManifests",
      "--block",
      "meta_x",
      "--url-host",
      "*.law.example.org",
      "--callback-host",
      "moodle.law.example.org",
      "--kv",
      kv,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /blocked pluginManifests, meta_x/);
    const policy = async () =>
      JSON.parse((await runBbblb(["tenant", "list", "--json", "--kv", kv])).stdout)
        .find((t: { name: string }) => t.name === "law").policy;
    assert.deepEqual(await policy(), {
      blocked: ["pluginManifests", "meta_x"],
      urlHosts: ["*.law.example.org"],
      callbackHosts: ["moodle.law.example.org"],
    });
    assert.match(
      (await runBbblb(["tenant", "list", "--kv", kv])).stdout,
      /blocked pluginManifests,meta_x; urls/,
    );
    const back = await runBbblb([
      "tenant",
      "set",
      "law",
      "--unblock",
      "meta_x",
      "--any-url-host",
      "--kv",
      kv,
    ]);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(await policy(), {
      blocked: ["pluginManifests"],
      urlHosts: null,
      callbackHosts: ["moodle.law.example.org"],
    });
    // the default tenant's policy is the global one
    assert.equal((await runBbblb(["tenant", "set", "default", "--block", "bot", "--kv", kv])).code, 0);
    assertOneLineError(
      await runBbblb(["tenant", "set", "law", "--url-host", "https://x.org/", "--kv", kv]),
      2,
      /--url-host: "https:\/\/x\.org\/" is not a host/,
    );
    assertOneLineError(
      await runBbblb(["tenant", "set", "law", "--url-host", "a.org", "--any-url-host", "--kv", kv]),
      2,
      /exclude each other/,
    );
  });
});

Deno.test("tenant set switches a tenant's recording protection and retention, and refuses bad values with one line", async () => {
  await withKv(async (kv) => {
    assert.equal((await runBbblb(["tenant", "add", "law", "--kv", kv])).code, 0);
    const set = await runBbblb([
      "tenant",
      "set",
      "law",
      "--protected-recordings",
      "on",
      "--delete-recordings-after",
      "365",
      "--kv",
      kv,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /protected recordings on, recordings deleted after 365 day\(s\)/);
    const row = () =>
      runBbblb(["tenant", "list", "--json", "--kv", kv]).then((r) =>
        (JSON.parse(r.stdout) as { name: string }[]).find((t) => t.name === "law")
      );
    assert.deepEqual(
      await row().then((r) =>
        r && [Reflect.get(r, "protectedRecordings"), Reflect.get(r, "deleteRecordingsAfterDays")]
      ),
      [true, 365],
    );
    assert.equal(
      (await runBbblb([
        "tenant",
        "set",
        "law",
        "--protected-recordings",
        "inherit",
        "--delete-recordings-after",
        "none",
        "--kv",
        kv,
      ])).code,
      0,
    );
    assert.deepEqual(
      await row().then((r) =>
        r && [Reflect.get(r, "protectedRecordings"), Reflect.get(r, "deleteRecordingsAfterDays")]
      ),
      [null, null],
    );
    assertOneLineError(
      await runBbblb(["tenant", "set", "law", "--protected-recordings", "yes", "--kv", kv]),
      2,
      /--protected-recordings: "yes" is not on, off or inherit/,
    );
    assertOneLineError(
      await runBbblb(["tenant", "set", "law", "--delete-recordings-after", "0", "--kv", kv]),
      2,
      /--delete-recordings-after: "0" is not a number of days/,
    );
  });
});
