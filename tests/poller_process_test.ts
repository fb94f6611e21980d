/**
 * The poller in real `./bbblb serve` processes: one instance polls at a time and another takes over when it is
 * killed; a server killed mid-test goes offline, gets no new meetings, and its meetings come back elsewhere.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createStore, runBbblb, type ServeProcess, signedPath, startServe } from "./bbblb_process.ts";
import { FakeBbb } from "./fake_bbb.ts";

const SECRET = "poller-process-secret";

/** Poll `check` every 100 ms until it returns true or `ms` pass; returns how long it took. */
async function eventually(
  what: string,
  ms: number,
  check: () => Promise<boolean> | boolean,
): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

async function api(serve: ServeProcess, call: string, query: string): Promise<Response> {
  return await fetch(`${serve.url}api/${signedPath(call, query, SECRET)}`, { redirect: "manual" });
}

async function text(serve: ServeProcess, call: string, query: string): Promise<string> {
  return await (await api(serve, call, query)).text();
}

interface Row {
  id: number;
  online: boolean;
  meetings: number;
}

async function rows(kv: string): Promise<Row[]> {
  const res = await runBbblb(["list-servers", "--json", "--kv", kv]);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout);
}

const POLLING = "polling (this instance holds the lease)";

Deno.test("two serve instances on one KV: one polls, and the other takes over when it is killed", async () => {
  const dir = await Deno.makeTempDir();
  const kv = `${dir}/bbblb.kv`;
  const fake = await FakeBbb.start();
  const serves: ServeProcess[] = [];
  try {
    await createStore(kv);
    assert.equal((await runBbblb(["add-server", "1", fake.url, fake.secret, "--kv", kv])).code, 0);
    const args = ["--poll-interval", "1", "--backend-timeout", "1"];
    serves.push(
      await startServe({ kv, secret: SECRET, args }),
      await startServe({ kv, secret: SECRET, args }),
    );
    await eventually("one instance polls", 15_000, () => serves.some((s) => s.stderr.includes(POLLING)));
    await new Promise((r) => setTimeout(r, 2500)); // a few more intervals: the other must not start polling
    const pollers = serves.filter((s) => s.stderr.includes(POLLING));
    assert.equal(pollers.length, 1);
    const [first] = pollers;
    const other = serves.find((s) => s !== first)!;

    // both serve the API: a meeting created through one is joinable through the other
    assert.match(await text(first, "create", "meetingID=shared-room&name=Shared"), /SUCCESS/);
    const join = await api(other, "join", "meetingID=shared-room&fullName=Ann&role=VIEWER");
    await join.body?.cancel();
    assert.equal(join.status, 302);
    assert.ok(join.headers.get("location")!.startsWith(fake.apiUrl));

    first.child.kill("SIGKILL");
    await first.finished;
    await eventually("the other instance takes over polling", 30_000, () => other.stderr.includes(POLLING));
  } finally {
    for (const s of serves) await s.kill();
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a server killed during the test goes offline, gets no new meetings, and its meetings move on once gone", async () => {
  const dir = await Deno.makeTempDir();
  const kv = `${dir}/bbblb.kv`;
  const fakes = [await FakeBbb.start(), await FakeBbb.start()];
  let serve: ServeProcess | undefined;
  try {
    await createStore(kv);
    for (const [i, f] of fakes.entries()) {
      assert.equal((await runBbblb(["add-server", String(i + 1), f.url, f.secret, "--kv", kv])).code, 0);
    }
    serve = await startServe({
      kv,
      secret: SECRET,
      args: ["--poll-interval", "1", "--backend-timeout", "1", "--failover-delay", "6"],
    });
    for (let i = 0; i < 4; i++) {
      assert.match(await text(serve, "create", `meetingID=room-${i}&name=Room`), /SUCCESS/);
    }
    const victim = fakes[0];
    const onVictim = [...victim.meetings.keys()];
    assert.ok(onVictim.length > 0);
    const created = await text(serve, "getMeetingInfo", `meetingID=${onVictim[0]}`);
    const oldCreateTime = created.match(/<createTime>(\d+)<\/createTime>/)![1];

    await victim.stop();
    await eventually("server 1 is shown offline", 15_000, async () => !(await rows(kv))[0].online);

    for (let i = 10; i < 14; i++) {
      assert.match(await text(serve, "create", `meetingID=room-${i}&name=Room`), /SUCCESS/);
    }
    assert.equal([...fakes[1].meetings.keys()].filter((id) => /room-1\d/.test(id)).length, 4);

    // offline is not gone: within the failover delay its meetings are not opened anywhere else
    assert.match(
      await text(serve, "create", `meetingID=${onVictim[0]}&name=Room`),
      /<messageKey>serverUnavailable<\/messageKey>/,
    );
    assert.ok(!fakes[1].meetings.has(onVictim[0]));
    // once it has been silent for the failover delay, the next create brings the meeting back on the other server
    await eventually(
      "the meeting fails over",
      15_000,
      async () => /SUCCESS/.test(await text(serve!, "create", `meetingID=${onVictim[0]}&name=Room`)),
    );
    assert.ok(fakes[1].meetings.has(onVictim[0]));
    // a join does it too, and a join link with the old createTime still works
    if (onVictim.length > 1) {
      const res = await api(serve, "join", `meetingID=${onVictim[1]}&fullName=Bo&role=VIEWER`);
      await res.body?.cancel();
      assert.equal(res.status, 302);
      assert.ok(res.headers.get("location")!.startsWith(fakes[1].apiUrl));
    }
    const rejoin = await api(
      serve,
      "join",
      `meetingID=${onVictim[0]}&fullName=Cy&role=VIEWER&createTime=${oldCreateTime}`,
    );
    await rejoin.body?.cancel();
    const landed = await fetch(rejoin.headers.get("location")!, { redirect: "manual" });
    await landed.body?.cancel();
    assert.equal(landed.status, 302, "BBB accepted the join with the rewritten createTime");
    const after = await rows(kv);
    assert.equal(after[0].meetings, 0);
    assert.equal(after[1].meetings, fakes[1].meetings.size);
  } finally {
    await serve?.kill();
    for (const f of fakes) await f.close();
    await Deno.remove(dir, { recursive: true });
  }
});
