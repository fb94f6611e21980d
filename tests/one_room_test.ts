/**
 * The two faults that once split a meeting into two rooms, reproduced against `./bbblb serve` as a process and
 * fake BBB servers: a short bbb-web hiccup of the holder's getMeetings, and a create that BBB performs but
 * answers late. Each must leave one meetingID in one room.
 *
 * @module
 */
import assert from "node:assert/strict";
import { signedPath, startServe, storeWithFakes } from "./bbblb_process.ts";
import { FakeBbb } from "./fake_bbb.ts";

const SECRET = "one-room-secret-0123456789";

/** A store with the fakes registered as servers 1..n. */
async function storeWith(dir: string, fakes: FakeBbb[]): Promise<string> {
  const path = `${dir}/bbblb.kv`;
  (await storeWithFakes(path, fakes)).close();
  return path;
}

function where(fakes: FakeBbb[], id: string): number[] {
  return fakes.flatMap((f, i) => (f.meetings.has(id) ? [i] : []));
}

Deno.test("a 2.5 s getMeetings hiccup of the holder never opens a second room (reproducer 1)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-one-room-" });
  const fakes = [await FakeBbb.start(), await FakeBbb.start()];
  const kv = await storeWith(dir, fakes);
  const serve = await startServe({
    kv,
    secret: SECRET,
    args: ["--poll-interval", "1", "--backend-timeout", "1"],
  });
  const call = (name: string, query: string) =>
    fetch(`${serve.url}api/${signedPath(name, query, SECRET)}`, { redirect: "manual" });
  try {
    await (await call("create", "meetingID=lecture&name=Lecture")).text();
    const [b] = where(fakes, "lecture");
    for (let i = 0; i < 3; i++) fakes[b].addParticipant("lecture");
    fakes[b].callModes.getMeetings = "http500";
    const until = Date.now() + 2500;
    const joins: string[] = [];
    while (Date.now() < until) {
      const res = await call("join", `meetingID=lecture&fullName=Late&role=VIEWER`);
      await res.body?.cancel();
      joins.push(res.headers.get("location") ?? `HTTP ${res.status}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    fakes[b].callModes = {};
    for (const j of joins) assert.ok(j.startsWith(fakes[b].apiUrl), `a join went elsewhere: ${j}`);
    await new Promise((r) => setTimeout(r, 3000)); // rounds after the hiccup
    assert.deepEqual(where(fakes, "lecture"), [b]);
    const res = await call("join", `meetingID=lecture&fullName=After&role=VIEWER`);
    await res.body?.cancel();
    assert.ok(res.headers.get("location")!.startsWith(fakes[b].apiUrl));
  } finally {
    await serve.kill();
    for (const f of fakes) await f.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a create BBB performs but answers after the backend timeout runs in one room (reproducer 2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-one-room-" });
  const fakes = [await FakeBbb.start(), await FakeBbb.start()];
  const kv = await storeWith(dir, fakes);
  const serve = await startServe({
    kv,
    secret: SECRET,
    args: ["--poll-interval", "1", "--backend-timeout", "5"],
  });
  const call = async (name: string, query: string) =>
    await (await fetch(`${serve.url}api/${signedPath(name, query, SECRET)}`)).text();
  try {
    for (const f of fakes) f.createDelayMs = 8000;
    const first = await call("create", "meetingID=slow-room&name=Slow+room");
    assert.match(
      first,
      /<returncode>SUCCESS<\/returncode>/,
      "the create timeout (15 s) waits for a slow BBB",
    );
    for (const f of fakes) f.createDelayMs = 0;
    assert.match(
      await call("create", "meetingID=slow-room&name=Slow+room"),
      /<returncode>SUCCESS<\/returncode>/,
    );
    assert.equal(where(fakes, "slow-room").length, 1);
    const listed = await call("getMeetings", "");
    assert.equal(listed.split("<meetingID>slow-room</meetingID>").length - 1, 1, "listed once");
  } finally {
    await serve.kill();
    for (const f of fakes) await f.close();
    await Deno.remove(dir, { recursive: true });
  }
});
