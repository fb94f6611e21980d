/**
 * Tests of `sync-servers`: adds and updates from YAML or JSON, cordons or prunes what the file leaves out,
 * prints a plan without secrets, changes nothing on a dry run or a failed check.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Harness, setup } from "../../tests/harness.ts";
import { FakeBbb } from "../../tests/fake_bbb.ts";
import { getServer, listServers } from "../store/servers.ts";
import { CliError } from "./errors.ts";
import { syncServersCommand } from "./sync_servers.ts";

const sync = (kv: Deno.Kv, text: string, o: { prune?: boolean; dryRun?: boolean; check?: boolean } = {}) =>
  syncServersCommand(kv, {
    text,
    name: "servers.yaml",
    prune: o.prune ?? false,
    dryRun: o.dryRun ?? false,
    check: o.check ?? true,
    timeoutMs: 2000,
  });

Deno.test("sync-servers adds and updates from YAML and cordons a server missing from the file", async () => {
  await using h = await setup({ servers: 2 });
  const fresh = await FakeBbb.start({ secret: "new-fake-secret-3" });
  try {
    const yaml = `
# the cluster
- id: 1
  url: ${h.fakes[0].url}
  secret: fake-secret-1
  weight: 2
  checksum: sha1
- id: 3
  url: ${fresh.url}
  secret: "new-fake-secret-3"
`;
    const out = await sync(h.kv, yaml);
    assert.equal(
      out,
      [
        "update server 1: weight 2, checksum sha1",
        "cordon server 2 (not in the file)",
        `add server 3 (${fresh.url}), enabled, weight 1`,
        "synced: 1 add, 1 update, 1 cordon, 0 remove, 0 unchanged",
      ].join("\n"),
    );
    const servers = await listServers(h.kv);
    assert.deepEqual(servers.map((s) => [s.id, s.state, s.weight]), [[1, "enabled", 2], [2, "cordoned", 1], [
      3,
      "enabled",
      1,
    ]]);
    assert.equal((await getServer(h.kv, 3))!.secret, "new-fake-secret-3");
    assert.ok(!out.includes("secret-"), "the plan shows a secret");
    // Syncing the same file again changes nothing.
    assert.match(await sync(h.kv, yaml), /synced: 0 add, 0 update, 0 cordon, 0 remove, 3 unchanged/);
  } finally {
    await fresh.close();
  }
});

Deno.test("sync-servers reads JSON, shows a changed secret by name only, and sets a given state", async () => {
  await using h = await setup({ servers: 1 });
  h.fakes[0].secret = "rotated-secret-0123456789";
  const json = JSON.stringify([{
    id: 1,
    url: h.fakes[0].url,
    secret: "rotated-secret-0123456789",
    state: "disabled",
  }]);
  const out = await sync(h.kv, json);
  assert.match(out, /^update server 1: secret, state disabled$/m);
  assert.ok(!out.includes("rotated-secret"));
  const s = (await getServer(h.kv, 1))!;
  assert.equal(s.secret, "rotated-secret-0123456789");
  assert.equal(s.state, "disabled");
});

Deno.test("sync-servers --prune removes servers without meetings and cordons those with meetings", async () => {
  await using h = await setup({ servers: 3 });
  assert.match(await h.text("create", { meetingID: "busy", name: "Busy" }), /SUCCESS/);
  const busy = (await listServers(h.kv)).find((s) => s.loadMilli > 0)!.id;
  const keep = busy === 1 ? 2 : 1;
  const file = JSON.stringify([{ id: keep, url: h.fakes[keep - 1].url, secret: `fake-secret-${keep}` }]);
  const out = await sync(h.kv, file, { prune: true });
  assert.match(
    out,
    new RegExp(
      `^cordon server ${busy} \\(not in the file; 1 meeting\\(s\\) run there, so --prune does not remove it\\)$`,
      "m",
    ),
  );
  const gone = [1, 2, 3].find((id) => id !== busy && id !== keep)!;
  assert.match(out, new RegExp(`^remove server ${gone} \\(not in the file\\)$`, "m"));
  assert.deepEqual((await listServers(h.kv)).map((s) => s.id).sort(), [keep, busy].sort());
  assert.equal((await getServer(h.kv, busy))!.state, "cordoned");
});

Deno.test("sync-servers --dry-run prints the plan and changes nothing", async () => {
  await using h = await setup({ servers: 2 });
  const before = await listServers(h.kv);
  const out = await sync(h.kv, `- {id: 1, url: "${h.fakes[0].url}", secret: fake-secret-1, weight: 5}\n`, {
    prune: true,
    dryRun: true,
  });
  assert.equal(
    out,
    "update server 1: weight 5\nremove server 2 (not in the file)\n" +
      "dry run: 0 to add, 1 to update, 0 to cordon, 1 to remove, 0 unchanged; nothing changed",
  );
  assert.deepEqual(await listServers(h.kv), before);
});

Deno.test("sync-servers reports every bad entry at once (exit 2) and changes nothing", async () => {
  await using h = await setup({ servers: 1 });
  const before = await listServers(h.kv);
  const yaml = `
- id: x
  url: https://a.example.org/bigbluebutton/
  secret: s
- id: 2
  url: ftp://b.example.org/
  secret: 12345
  weight: 0
  colour: blue
- id: 3
  url: https://c.example.org/bigbluebutton/
  secret: c
  state: panic
`;
  await assert.rejects(() => sync(h.kv, yaml), (e: unknown) => {
    assert.ok(e instanceof CliError);
    assert.equal(e.exitCode, 2);
    assert.equal(
      e.message,
      [
        "servers.yaml: entry 1: id must be a non-negative integer",
        "servers.yaml: entry 2: unknown field(s) colour",
        'servers.yaml: server 2: "ftp://b.example.org/" is not an http(s) URL',
        "servers.yaml: server 2: secret must be a non-empty string (quote it if it looks like a number)",
        "servers.yaml: server 2: weight must be a number above 0 and at most 1000",
        "servers.yaml: server 3: state must be one of enabled, cordoned, disabled",
      ].join("; "),
    );
    return true;
  });
  assert.deepEqual(await listServers(h.kv), before);
});

Deno.test("a new server whose secret is wrong fails the check and nothing is changed", async () => {
  await using h = await setup({ servers: 1 });
  const other = await FakeBbb.start({ secret: "the-real-secret-012345" });
  try {
    const file = JSON.stringify([
      { id: 1, url: h.fakes[0].url, secret: "fake-secret-1", weight: 3 },
      { id: 2, url: other.url, secret: "a-wrong-secret-0123456" },
    ]);
    await assert.rejects(() => sync(h.kv, file), /the secret is wrong for/);
    assert.deepEqual((await listServers(h.kv)).map((s) => [s.id, s.weight]), [[1, 1]]);
  } finally {
    await other.close();
  }
});

/** One entry of a sync file for the harness's server `id`, as registered, plus `extra` YAML lines. */
function fileEntry(h: Harness, id: number, extra: string): string {
  return `
- id: ${id}
  url: ${h.fakes[id - 1].url}
  secret: fake-secret-${id}
  checksum: ${["sha1", "sha256", "sha384", "sha512"][id % 4]}${extra}`;
}

Deno.test("sync-servers sets tags and meeting caps when the file names them, and leaves them alone when it does not", async () => {
  await using h = await setup({ servers: 2 });
  const entry = (id: number, extra = "") => fileEntry(h, id, extra);
  await sync(h.kv, entry(1, "\n  tags: [lecture, big]\n  maxMeetings: 40") + entry(2));
  assert.deepEqual((await getServer(h.kv, 1))?.tags, ["lecture", "big"]);
  assert.equal((await getServer(h.kv, 1))?.maxMeetings, 40);
  await sync(h.kv, entry(1) + entry(2)); // not named: kept
  assert.deepEqual((await getServer(h.kv, 1))?.tags, ["lecture", "big"]);
  await sync(h.kv, entry(1, "\n  tags: []\n  maxMeetings: null") + entry(2));
  assert.deepEqual((await getServer(h.kv, 1))?.tags, []);
  assert.equal((await getServer(h.kv, 1))?.maxMeetings, null);
  await assert.rejects(() => sync(h.kv, entry(1, "\n  tags: [a;b]") + entry(2)), CliError);
});

Deno.test("sync-servers sets, keeps and forgets a server's BBB version, and refuses an unquoted or bad one", async () => {
  await using h = await setup({ servers: 2 });
  const entry = (id: number, extra = "") => fileEntry(h, id, extra);
  const out = await sync(h.kv, entry(1, '\n  bbbVersion: "3.0"') + entry(2));
  assert.match(out, /update server 1: bbbVersion 3\.0/);
  assert.equal((await getServer(h.kv, 1))?.configuredVersion, "3.0");
  await sync(h.kv, entry(1) + entry(2)); // not named: kept
  assert.equal((await getServer(h.kv, 1))?.configuredVersion, "3.0");
  await sync(h.kv, entry(1, "\n  bbbVersion: null") + entry(2));
  assert.equal((await getServer(h.kv, 1))?.configuredVersion, null);
  const unquoted = await sync(h.kv, entry(1, "\n  bbbVersion: 3.0") + entry(2)).catch((e) => e);
  assert.ok(unquoted instanceof CliError);
  assert.match(unquoted.message, /server 1.*bbbVersion must be quoted/);
  const bad = await sync(h.kv, entry(1, '\n  bbbVersion: "three"') + entry(2)).catch((e) => e);
  assert.match(bad.message, /bbbVersion: "three" is not a BBB version/);
});
