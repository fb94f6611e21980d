/**
 * The command line as an operator meets it: `./bbblb` run as a subprocess with a minimal environment and its
 * own temporary KV file per test. Errors are one line on stderr with a non-zero exit; secrets come from an
 * argument or stdin and are never printed again; admin changes reach a running `./bbblb serve` on the same
 * store; and `serve` generates, announces once and keeps its API secret when none is configured.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FakeBbb } from "./fake_bbb.ts";
import {
  type CliResult,
  createStore,
  freePort,
  runBbblb,
  type ServeProcess,
  signedPath,
  startServe,
} from "./bbblb_process.ts";

/** One row of `list-servers --json`. */
interface Row {
  id: number;
  url: string;
  state: string;
  online: boolean;
  meetings: number;
  load: number;
  weight: number;
}

/**
 * Run `fn` with a fresh temp dir and an empty store in it (as `serve` leaves it on its first start), or only
 * the path with `store: false`; the dir is removed afterwards.
 */
async function withKv(fn: (kv: string) => Promise<void>, options = { store: true }): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-cli-" });
  try {
    if (options.store) await createStore(`${dir}/bbblb.kv`);
    await fn(`${dir}/bbblb.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Run `fn` with fake BBB servers that are closed afterwards. */
async function withFakes(secrets: string[], fn: (fakes: FakeBbb[]) => Promise<void>): Promise<void> {
  const fakes: FakeBbb[] = [];
  try {
    for (const secret of secrets) fakes.push(await FakeBbb.start({ secret }));
    await fn(fakes);
  } finally {
    for (const fake of fakes) await fake.close();
  }
}

/** Assert the operator got exactly one line on stderr, nothing on stdout, and a non-zero exit. */
function assertOneLineError(res: CliResult, pattern?: RegExp): void {
  assert.notEqual(res.code, 0, `exit 0 for an error; stdout: ${res.stdout}`);
  assert.equal(res.stdout, "", "an error printed to stdout");
  const lines = res.stderr.split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `not one line on stderr:\n${res.stderr}`);
  if (pattern) assert.match(lines[0], pattern);
}

function assertOk(res: CliResult): void {
  assert.equal(res.code, 0, res.stderr);
}

async function rows(kv: string): Promise<Row[]> {
  const res = await runBbblb(["list-servers", "--json", "--kv", kv]);
  assertOk(res);
  return JSON.parse(res.stdout);
}

/** A signed GET to bbblb; the body as text. */
async function callApi(serve: ServeProcess, secret: string, call: string, query = ""): Promise<string> {
  const res = await fetch(`${serve.url}api/${signedPath(call, query, secret)}`);
  return await res.text();
}

/** The id of the fake (1-based position in `fakes`) that holds `meetingID`. */
function serverOf(fakes: FakeBbb[], meetingID: string): number {
  const i = fakes.findIndex((f) => f.meetings.has(meetingID));
  assert.ok(i >= 0, `no fake holds ${meetingID}`);
  return i + 1;
}

const SECRET = "cli-fake-secret-0123456789abcdef";
const API_SECRET = "cli-api-secret-0123456789abcdef";

Deno.test("an unknown command is one line on stderr and a non-zero exit", async () => {
  assertOneLineError(await runBbblb(["frobnicate"]), /^bbblb: unknown command 'frobnicate'/);
});

Deno.test("a command group without its subcommand is one line naming the subcommands, exit 2", async () => {
  for (const group of ["tenant", "recording"]) {
    const out = await runBbblb([group]);
    assertOneLineError(out, new RegExp(`^bbblb: ${group} needs a subcommand: bbblb ${group} \\w+\\|`));
    assert.equal(out.code, 2);
  }
});

Deno.test("an unknown flag is one line on stderr and a non-zero exit", async () => {
  await withKv(async (kv) => {
    assertOneLineError(await runBbblb(["list-servers", "--kv", kv, "--frobnicate"]), /--frobnicate/);
  });
});

Deno.test("a server id that is not a non-negative integer is refused in one line", async () => {
  await withKv(async (kv) => {
    for (
      const args of [
        ["add-server", "x", "http://127.0.0.1:1/bigbluebutton/", SECRET, "--no-check"],
        ["enable", "x"],
        ["remove-server", "x"],
      ]
    ) {
      assertOneLineError(await runBbblb([...args, "--kv", kv]), /"x" is not a server id/);
    }
    assert.deepEqual(await rows(kv), []);
  });
});

Deno.test("adding a server id that is taken is refused in one line and keeps the first server", async () => {
  await withKv(async (kv) => {
    assertOk(
      await runBbblb([
        "add-server",
        "1",
        "http://127.0.0.1:1/bigbluebutton/",
        SECRET,
        "--no-check",
        "--kv",
        kv,
      ]),
    );
    assertOneLineError(
      await runBbblb([
        "add-server",
        "1",
        "http://127.0.0.1:2/bigbluebutton/",
        SECRET,
        "--no-check",
        "--kv",
        kv,
      ]),
      /server 1 already exists/,
    );
    assert.deepEqual((await rows(kv)).map((r) => r.url), ["http://127.0.0.1:1/bigbluebutton/"]);
  });
});

Deno.test("a server URL that is not http(s) is refused in one line", async () => {
  await withKv(async (kv) => {
    assertOneLineError(
      await runBbblb([
        "add-server",
        "1",
        "ftp://bbb.example.org/bigbluebutton/",
        SECRET,
        "--no-check",
        "--kv",
        kv,
      ]),
      /ftp:\/\/bbb\.example\.org\/bigbluebutton\/.*not an http\(s\) URL/,
    );
    assert.deepEqual(await rows(kv), []);
  });
});

Deno.test("add-server to an unreachable URL fails in one line that names the URL", async () => {
  await withKv(async (kv) => {
    const url = `http://127.0.0.1:${freePort()}/bigbluebutton/`;
    const res = await runBbblb(["add-server", "1", url, SECRET, "--kv", kv]);
    assertOneLineError(res);
    assert.ok(res.stderr.includes(url), res.stderr);
    assert.ok(!res.stderr.includes(SECRET), "the secret appeared in the error");
    assert.deepEqual(await rows(kv), []);
  });
});

Deno.test("add-server with the wrong secret fails in one line that says the secret is wrong", async () => {
  await withKv((kv) =>
    withFakes([SECRET], async ([fake]) => {
      const wrong = "not-the-secret-0123456789";
      const res = await runBbblb(["add-server", "1", fake.url, wrong, "--kv", kv]);
      assertOneLineError(res, /secret is wrong/);
      assert.ok(res.stderr.includes(fake.url), res.stderr);
      assert.ok(!res.stderr.includes(wrong), "the secret appeared in the error");
      assert.deepEqual(await rows(kv), []);
    })
  );
});

Deno.test("enable, disable, cordon, set-server and remove-server of an unknown id each fail in one line", async () => {
  await withKv(async (kv) => {
    assertOk(
      await runBbblb(["add-server", "1", "http://127.0.0.1:9/bigbluebutton/", "s", "--no-check", "--kv", kv]),
    );
    for (
      const command of [["enable"], ["disable"], ["cordon"], ["set-server", "--weight", "2"], [
        "remove-server",
      ]]
    ) {
      assertOneLineError(await runBbblb([command[0], "7", ...command.slice(1), "--kv", kv]), /no server 7/);
    }
  });
});

Deno.test("admin commands refuse a store that does not exist in one line naming it, and create none", async () => {
  await withKv(async (kv) => {
    for (
      const command of [
        ["list-servers"],
        ["list-meetings"],
        ["enable", "1"],
        ["panic", "1"],
        ["add-server", "1", "http://127.0.0.1:9/bigbluebutton/", SECRET, "--no-check"],
        ["set-server", "1", "--weight", "2"],
        ["tenant", "list"],
        ["export"],
      ]
    ) {
      const res = await runBbblb([...command, "--kv", kv]);
      assertOneLineError(res, /there is no store at .*bbblb\.kv/);
      assert.equal(res.code, 1, command.join(" "));
    }
    await assert.rejects(() => Deno.stat(kv));
  }, { store: false });
});

Deno.test("sync-servers and import create a missing store and say so on stderr", async () => {
  await withKv(async (kv) => {
    const synced = await runBbblb(["sync-servers", "-", "--no-check", "--kv", kv], {
      stdin: JSON.stringify([{ id: 1, url: "http://127.0.0.1:9/bigbluebutton/", secret: SECRET }]),
    });
    assertOk(synced);
    assert.match(synced.stderr, /created a new store at .*bbblb\.kv/);
    assert.deepEqual((await rows(kv)).map((r) => r.id), [1]);
    const exported = await runBbblb(["export", "--kv", kv]);
    assertOk(exported);
    const other = kv.replace(/bbblb\.kv$/, "other.kv");
    const imported = await runBbblb(["import", "-", "--kv", other], { stdin: exported.stdout });
    assertOk(imported);
    assert.match(imported.stderr, /created a new store at .*other\.kv/);
    assert.deepEqual((await rows(other)).map((r) => r.id), [1]);
    // A dry run before the first start plans against an empty cluster and creates nothing.
    const third = kv.replace(/bbblb\.kv$/, "third.kv");
    const planned = await runBbblb(["sync-servers", "-", "--dry-run", "--no-check", "--kv", third], {
      stdin: JSON.stringify([{ id: 2, url: "http://127.0.0.1:9/bigbluebutton/", secret: SECRET }]),
    });
    assertOk(planned);
    assert.match(planned.stdout, /add server 2 .*\n.*dry run: 1 to add/);
    assert.match(planned.stderr, /no store at .*third\.kv yet/);
    await assert.rejects(() => Deno.stat(third));
  }, { store: false });
});

Deno.test("set-server changes weight and secret; the same URL cannot be registered twice", async () => {
  await withKv((kv) =>
    withFakes([SECRET], async ([fake]) => {
      assertOk(await runBbblb(["add-server", "1", fake.url, SECRET, "--kv", kv]));
      assertOneLineError(
        await runBbblb(["add-server", "2", fake.apiUrl, SECRET, "--kv", kv]),
        /already registered/,
      );
      assertOk(await runBbblb(["set-server", "1", "--weight", "3", "--kv", kv]));
      assertOneLineError(
        await runBbblb(["set-server", "1", "--secret", "wrong-one", "--kv", kv]),
        /secret is wrong/,
      );
      fake.secret = "rotated-secret";
      assertOk(
        await runBbblb(["set-server", "1", "--secret", "-", "--kv", kv], { stdin: "rotated-secret\n" }),
      );
      const rows = JSON.parse((await runBbblb(["list-servers", "--json", "--kv", kv])).stdout);
      assert.equal(rows[0].weight, 3);
      assert.equal(JSON.stringify(rows).includes("rotated-secret"), false);
      assertOneLineError(await runBbblb(["set-server", "1", "--kv", kv]), /nothing to change/);
    })
  );
});

Deno.test("add-server reads the secret from stdin when it is given as -", async () => {
  await withKv((kv) =>
    withFakes([SECRET], async ([fake]) => {
      const res = await runBbblb(["add-server", "4", fake.url, "-", "--kv", kv], { stdin: `${SECRET}\n` });
      assertOk(res);
      assert.match(res.stdout, /added server 4/);
      const checks = fake.requests.filter((r) => r.call === "getMeetings");
      assert.equal(checks.length, 1);
      assert.equal(checks[0].checksumOk, true, "the check call was not signed with the secret from stdin");
      assert.deepEqual((await rows(kv)).map((r) => [r.id, r.url]), [[4, fake.url]]);
    })
  );
});

Deno.test("add-server --no-check registers a server that cannot be reached", async () => {
  await withKv(async (kv) => {
    const url = `http://127.0.0.1:${freePort()}/bigbluebutton/`;
    const res = await runBbblb(["add-server", "2", url, SECRET, "--no-check", "--kv", kv]);
    assertOk(res);
    assert.deepEqual((await rows(kv)).map((r) => [r.id, r.url, r.state]), [[2, url, "enabled"]]);
  });
});

Deno.test("list-servers shows id, url, state, online, meetings, load and weight but never a secret", async () => {
  await withKv((kv) =>
    withFakes([SECRET, "second-fake-secret-9876543210"], async (fakes) => {
      assertOk(await runBbblb(["add-server", "1", fakes[0].url, SECRET, "--kv", kv]));
      assertOk(
        await runBbblb(["add-server", "2", fakes[1].url, "-", "--weight", "2.5", "--kv", kv], {
          stdin: fakes[1].secret,
        }),
      );
      const json = await runBbblb(["list-servers", "--json", "--kv", kv]);
      assertOk(json);
      const list: Row[] = JSON.parse(json.stdout);
      assert.equal(list.length, 2);
      for (const row of list) {
        for (const field of ["id", "url", "state", "online", "meetings", "load", "weight"]) {
          assert.ok(Object.hasOwn(row, field), `list-servers --json lacks ${field}`);
        }
      }
      assert.deepEqual(
        list.map((r) => [r.id, r.url, r.state, r.online, r.meetings, r.load, r.weight]),
        [[1, fakes[0].url, "enabled", true, 0, 0, 1], [2, fakes[1].url, "enabled", true, 0, 0, 2.5]],
      );
      const table = await runBbblb(["list-servers", "--kv", kv]);
      assertOk(table);
      assert.match(table.stdout, /^ID\s+URL\s+STATE\s+ONLINE\s+MEETINGS\b.*\bLOAD\b.*\bWEIGHT\b/m);
      for (const fake of fakes) {
        assert.ok(table.stdout.includes(fake.url), table.stdout);
        for (const out of [json.stdout, json.stderr, table.stdout, table.stderr]) {
          assert.ok(!out.includes(fake.secret), "list-servers printed a secret");
        }
      }
    })
  );
});

Deno.test("disable and then enable show up in list-servers", async () => {
  await withKv(async (kv) => {
    assertOk(
      await runBbblb([
        "add-server",
        "3",
        "http://127.0.0.1:1/bigbluebutton/",
        SECRET,
        "--no-check",
        "--kv",
        kv,
      ]),
    );
    const disabled = await runBbblb(["disable", "3", "--kv", kv]);
    assertOk(disabled);
    assert.match(disabled.stdout, /server 3 is disabled/);
    assert.deepEqual((await rows(kv)).map((r) => r.state), ["disabled"]);
    const table = await runBbblb(["list-servers", "--kv", kv]);
    assert.match(table.stdout, /^3\s+http:\S+\s+disabled\s/m);
    assertOk(await runBbblb(["enable", "3", "--kv", kv]));
    assert.deepEqual((await rows(kv)).map((r) => r.state), ["enabled"]);
  });
});

Deno.test("remove-server refuses while a meeting runs there, and --force removes it", async () => {
  await withKv((kv) =>
    withFakes([SECRET], async ([fake]) => {
      assertOk(await runBbblb(["add-server", "1", fake.url, SECRET, "--kv", kv]));
      const serve = await startServe({ kv, secret: API_SECRET });
      try {
        const created = await callApi(serve, API_SECRET, "create", "name=Busy&meetingID=busy-1");
        assert.match(created, /<returncode>SUCCESS<\/returncode>/, created);
        assert.ok(fake.meetings.has("busy-1"));

        const refused = await runBbblb(["remove-server", "1", "--kv", kv]);
        assertOneLineError(refused, /server 1 still has 1 running meeting.*--force/);
        assert.deepEqual((await rows(kv)).map((r) => [r.id, r.meetings]), [[1, 1]]);

        const forced = await runBbblb(["remove-server", "1", "--force", "--kv", kv]);
        assertOk(forced);
        assert.match(forced.stdout, /removed server 1; forgot 1 meeting/);
        assert.deepEqual(await rows(kv), []);
        assert.ok(fake.meetings.has("busy-1"), "--force must not end the meeting on the BBB server");
      } finally {
        await serve.kill();
      }
    })
  );
});

Deno.test("a server disabled while serve runs gets no new meetings within 2 s", async () => {
  await withKv((kv) =>
    withFakes([SECRET, SECRET], async (fakes) => {
      // Server 2 weighs 1000: once each server holds one meeting, server 2 is the clear first choice.
      assertOk(await runBbblb(["add-server", "1", fakes[0].url, SECRET, "--kv", kv]));
      assertOk(await runBbblb(["add-server", "2", fakes[1].url, SECRET, "--weight", "1000", "--kv", kv]));
      const serve = await startServe({ kv, secret: API_SECRET });
      let n = 0;
      const create = async () => {
        const id = `m-${++n}`;
        const answer = await callApi(serve, API_SECRET, "create", `name=Room&meetingID=${id}`);
        assert.match(answer, /<returncode>SUCCESS<\/returncode>/, answer);
        return serverOf(fakes, id);
      };
      try {
        assert.deepEqual([await create(), await create()].sort(), [1, 2]);
        assert.equal(await create(), 2, "before the disable, server 2 takes the next meeting");

        assertOk(await runBbblb(["disable", "2", "--kv", kv]));
        const disabledAt = Date.now();
        while ((await create()) === 2) {
          assert.ok(Date.now() - disabledAt < 2000, "serve kept placing meetings on the disabled server");
          await new Promise((r) => setTimeout(r, 50));
        }
        for (let i = 0; i < 3; i++) assert.equal(await create(), 1);
      } finally {
        await serve.kill();
      }
    })
  );
});

Deno.test("serve without a secret generates one, prints it once, and keeps using it after a restart", async () => {
  await withKv(async (kv) => {
    const first = await startServe({ kv });
    let secret: string;
    try {
      const status = await first.terminate();
      assert.equal(status.code, 0, first.stderr);
      const candidates = first.stderr.split("\n").filter((l) => /^[A-Za-z0-9]{32,}$/.test(l.trim()));
      assert.equal(candidates.length, 1, `no single generated secret on stderr:\n${first.stderr}`);
      secret = candidates[0].trim();
      assert.equal(first.stderr.split(secret).length - 1, 1, "the secret was printed more than once");
      assert.ok(!first.stdout.includes(secret));
    } finally {
      await first.kill();
    }

    const second = await startServe({ kv });
    try {
      const ok = await callApi(second, secret, "getMeetings");
      assert.match(ok, /<returncode>SUCCESS<\/returncode>/, ok);
      const wrong = await callApi(second, "some-other-secret-0123456789", "getMeetings");
      assert.match(wrong, /<messageKey>checksumError<\/messageKey>/, wrong);
      await second.terminate();
      assert.ok(!second.stderr.includes(secret), "the secret was printed again on the second start");
      assert.ok(!second.stdout.includes(secret), "the secret was printed again on the second start");
    } finally {
      await second.kill();
    }
  });
});

Deno.test("serve --help lists every serve flag", async () => {
  const res = await runBbblb(["serve", "--help"]);
  assertOk(res);
  for (
    const flag of ["--kv", "--host", "--port", "--secret", "--url", "--poll-interval", "--backend-timeout"]
  ) {
    assert.match(res.stdout, new RegExp(`^\\s+${flag} `, "m"), `serve --help does not list ${flag}`);
  }
});

Deno.test("add-server --tag and set-server --tag / --no-tags set a server's placement tags", async () => {
  await withKv(async (kv) => {
    const url = "http://127.0.0.1:9/bigbluebutton/";
    assertOk(
      await runBbblb([
        "add-server",
        "1",
        url,
        "s",
        "--no-check",
        "--tag",
        "lecture",
        "--tag",
        "big",
        "--kv",
        kv,
      ]),
    );
    const tagsOf = async () =>
      JSON.parse((await runBbblb(["list-servers", "--json", "--kv", kv])).stdout)[0].tags;
    assert.deepEqual(await tagsOf(), ["lecture", "big"]);
    assertOk(await runBbblb(["set-server", "1", "--tag", "gpu", "--kv", kv]));
    assert.deepEqual(await tagsOf(), ["gpu"]);
    assertOk(await runBbblb(["set-server", "1", "--no-tags", "--kv", kv]));
    assert.deepEqual(await tagsOf(), []);
    const bad = await runBbblb(["set-server", "1", "--tag", "a;b", "--kv", kv]);
    assertOneLineError(bad, /not a tag/);
    assert.equal(bad.code, 2);
  });
});

Deno.test("add-server and set-server --hooks-checksum choose what webhook calls are signed with (SHA-1 unless set)", async () => {
  await withKv(async (kv) => {
    const url = "http://127.0.0.1:9/bigbluebutton/";
    assertOk(await runBbblb(["add-server", "1", url, SECRET, "--no-check", "--kv", kv]));
    assertOk(
      await runBbblb([
        "add-server",
        "2",
        url.replace(":9", ":10"),
        SECRET,
        "--no-check",
        "--hooks-checksum",
        "sha256",
        "--kv",
        kv,
      ]),
    );
    const hooks = async () =>
      (await rows(kv)).map((r) => (r as Row & { hooksChecksum: string }).hooksChecksum);
    assert.deepEqual(await hooks(), ["sha1", "sha256"]);
    const changed = await runBbblb(["set-server", "1", "--hooks-checksum", "sha512", "--kv", kv]);
    assertOk(changed);
    assert.match(changed.stdout, /server 1: changed hooks-checksum/);
    assert.deepEqual(await hooks(), ["sha512", "sha256"]);
    assertOneLineError(await runBbblb(["set-server", "1", "--hooks-checksum", "md5", "--kv", kv]), /md5/);
  });
});

Deno.test("add-server and set-server --bbb-version give a server's BBB version, shown in list-servers", async () => {
  await withKv(async (kv) => {
    const url = "http://127.0.0.1:9/bigbluebutton/";
    const added = await runBbblb([
      "add-server",
      "1",
      url,
      SECRET,
      "--no-check",
      "--bbb-version",
      "3.0",
      "--kv",
      kv,
    ]);
    assertOk(added);
    assert.match(added.stdout, /BBB 3\.0/);
    const row = async () => {
      const r = JSON.parse((await runBbblb(["list-servers", "--json", "--kv", kv])).stdout)[0];
      return [r.bbbVersion, r.versionSource];
    };
    assert.deepEqual(await row(), ["3.0", "configured"]);
    const table = (await runBbblb(["list-servers", "--kv", kv])).stdout;
    assert.match(table.split("\n")[0], /VERSION/);
    assert.match(table.split("\n")[1], /\s3\.0\*\s/);
    assertOk(await runBbblb(["set-server", "1", "--bbb-version", "4.0.0-beta.5", "--kv", kv]));
    assert.deepEqual(await row(), ["4.0.0-beta.5", "configured"]);
    assertOk(await runBbblb(["set-server", "1", "--bbb-version", "none", "--kv", kv]));
    assert.deepEqual(await row(), [null, null]);
    const bad = await runBbblb(["set-server", "1", "--bbb-version", "latest", "--kv", kv]);
    assertOneLineError(bad, /--bbb-version: "latest" is not a BBB version/);
    assert.equal(bad.code, 2);
  });
});
