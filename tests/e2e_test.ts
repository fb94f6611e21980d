/**
 * End to end: three fake BBB servers registered with `./bbblb add-server`, `./bbblb serve` in its own process,
 * and the published npm client `bigbluebutton-js` (unchanged) driving it as an application would: create,
 * join, getMeetingInfo, isMeetingRunning, getMeetings and end, including IDs and names with non-ASCII and
 * URL-special characters. Ends with SIGTERM and a check that no secret ever reached serve's output.
 *
 * @module
 */

import assert from "node:assert/strict";
import bbb from "bigbluebutton-js";
import { FakeBbb } from "./fake_bbb.ts";
import { runBbblb, type ServeProcess, startServe } from "./bbblb_process.ts";
import { rawGet } from "./raw_http.ts";

/** The API secret bbblb is started with. */
const API_SECRET = "e2e-api-secret-" + crypto.randomUUID();
const ATTENDEE_PW = "ap-e2e";
const MODERATOR_PW = "mp-e2e";
/** A meetingID with Greek, Chinese, emoji and every character that needs care in a query string. */
const SPECIAL_ID = "Ελληνικά 中文 😀 & = + ' ( ) * ! ~ % room";
const SPECIAL_NAME = "Zoë O'Brien 李小龙 🎉 & = + ' ( ) * ! ~ %";

// deno-lint-ignore no-explicit-any
type Parsed = any;

/** One row of `list-servers --json`. */
interface Row {
  id: number;
  url: string;
  meetings: number;
  load: number;
}

/**
 * fast-xml-parser 3 (what bigbluebutton-js parses with) leaves XML entities as they are; undo the five BBB
 * escapes to compare with the values that were sent.
 */
function unescapeXml(s: string): string {
  return s.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", '"').replaceAll("&apos;", "'")
    .replaceAll("&amp;", "&");
}

async function listServers(kv: string): Promise<Row[]> {
  const res = await runBbblb(["list-servers", "--json", "--kv", kv]);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout);
}

/** The one fake that holds `meetingID`. */
function holderOf(fakes: FakeBbb[], meetingID: string): FakeBbb {
  const found = fakes.filter((f) => f.meetings.has(meetingID));
  assert.equal(found.length, 1, `${meetingID} is on ${found.length} servers`);
  return found[0];
}

Deno.test("bbblb serves the BBB API end to end to the unchanged bigbluebutton-js client", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-e2e-" });
  const kv = `${dir}/bbblb.kv`;
  const fakes: FakeBbb[] = [];
  let serve: ServeProcess | undefined;
  try {
    for (let i = 0; i < 3; i++) {
      fakes.push(await FakeBbb.start({ secret: `fake-${i}-${crypto.randomUUID()}` }));
    }

    // As in the quick start: serve creates the store on its first start, then the servers are registered.
    serve = await startServe({ kv, secret: API_SECRET });

    await t.step("add-server registers each fake server and exits 0", async () => {
      for (const [i, fake] of fakes.entries()) {
        const res = await runBbblb(["add-server", String(i + 1), fake.url, fake.secret], {
          env: { BBBLB_KV: kv },
        });
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, new RegExp(`added server ${i + 1}`));
      }
      assert.deepEqual((await listServers(kv)).map((r) => r.url), fakes.map((f) => f.url));
    });
    const api = bbb.api(serve.url, API_SECRET);
    const ids = Array.from({ length: 6 }, (_, i) => `e2e-meeting-${i + 1}`);

    await t.step("create places six meetings and spreads them over all three servers", async () => {
      for (const id of ids) {
        const url = api.administration.create(`Room ${id}`, id, {
          attendeePW: ATTENDEE_PW,
          moderatorPW: MODERATOR_PW,
        });
        const answer: Parsed = await bbb.http(url);
        assert.equal(answer.returncode, "SUCCESS", JSON.stringify(answer));
        assert.equal(answer.meetingID, id);
      }
      for (const id of ids) holderOf(fakes, id);
      assert.deepEqual(fakes.map((f) => f.meetings.size > 0), [true, true, true]);
      assert.equal(fakes.reduce((n, f) => n + f.meetings.size, 0), 6);
    });

    const joined = ids[2];
    await t.step("join redirects to the meeting's server with a checksum that server accepts", async () => {
      const holder = holderOf(fakes, joined);
      const url = api.administration.join("Alice Example", joined, MODERATOR_PW);
      const res = await fetch(url, { redirect: "manual" });
      await res.body?.cancel();
      assert.equal(res.status, 302);
      const location = res.headers.get("location")!;
      assert.ok(location.startsWith(`${holder.apiUrl}join?`), location);

      const atServer = await fetch(location, { redirect: "manual" });
      await atServer.body?.cancel();
      assert.equal(atServer.status, 302, "the fake refused the join bbblb signed");
      assert.ok(
        atServer.headers.get("location")!.startsWith(
          `${holder.url.replace(/bigbluebutton\/$/, "")}html5client/join?`,
        ),
      );
      assert.deepEqual(
        holder.meetings.get(joined)!.participants.map((p) => [p.fullName, p.role]),
        [["Alice Example", "MODERATOR"]],
      );
    });

    await t.step("getMeetingInfo and isMeetingRunning answer from the meeting's server", async () => {
      const info: Parsed = await bbb.http(api.monitoring.getMeetingInfo(joined));
      assert.equal(info.returncode, "SUCCESS");
      assert.equal(info.meetingID, joined);
      assert.equal(info.participantCount, 1);
      assert.equal(info.attendees.attendee.fullName, "Alice Example");
      const running: Parsed = await bbb.http(api.monitoring.isMeetingRunning(joined));
      assert.equal(running.returncode, "SUCCESS");
      assert.equal(running.running, true);
      const other: Parsed = await bbb.http(api.monitoring.isMeetingRunning(ids[0]));
      assert.equal(other.running, false, "nobody joined that one");
    });

    await t.step("getMeetings lists all six meetings", async () => {
      const all: Parsed = await bbb.http(api.monitoring.getMeetings());
      assert.equal(all.returncode, "SUCCESS");
      assert.deepEqual(all.meetings.map((m: Parsed) => m.meetingID).sort(), [...ids].sort());
    });

    await t.step("end frees the meeting in getMeetings and in list-servers' meetings and load", async () => {
      const ended = ids[0];
      const holder = holderOf(fakes, ended);
      const serverId = fakes.indexOf(holder) + 1;
      const before = await listServers(kv);
      assert.equal(before.reduce((n, r) => n + r.meetings, 0), 6);
      assert.equal(before.reduce((n, r) => n + r.load, 0), 6);

      const answer: Parsed = await bbb.http(api.administration.end(ended, MODERATOR_PW));
      assert.equal(answer.returncode, "SUCCESS", JSON.stringify(answer));
      assert.equal(holder.meetings.has(ended), false);

      const all: Parsed = await bbb.http(api.monitoring.getMeetings());
      assert.deepEqual(all.meetings.map((m: Parsed) => m.meetingID).sort(), ids.slice(1).sort());
      const after = await listServers(kv);
      const row = (rows: Row[]) => rows.find((r) => r.id === serverId)!;
      assert.equal(row(after).meetings, row(before).meetings - 1);
      assert.equal(row(after).load, row(before).load - 1);
      assert.equal(after.reduce((n, r) => n + r.meetings, 0), 5);
      assert.equal(after.reduce((n, r) => n + r.load, 0), 5);
    });

    await t.step(
      "a meetingID and fullName in Greek, Chinese, emoji and & = + ' ( ) * ! ~ % survive",
      async () => {
        // Through the library's own http(): it signs a raw `'` and axios sends it as `%27`; bbblb accepts that
        // spelling of the same parameters (bbb-web would refuse it).
        const created: Parsed = await bbb.http(
          api.administration.create("Unicode room", SPECIAL_ID, {
            attendeePW: ATTENDEE_PW,
            moderatorPW: MODERATOR_PW,
          }),
        );
        assert.equal(created.returncode, "SUCCESS", JSON.stringify(created));
        const holder = holderOf(fakes, SPECIAL_ID);
        assert.equal(holder.meetings.get(SPECIAL_ID)!.meetingName, "Unicode room");

        // The same URLs byte for byte, as curl or PHP would send them.
        const join = await rawGet(api.administration.join(SPECIAL_NAME, SPECIAL_ID, ATTENDEE_PW));
        assert.equal(join.status, 302, join.body);
        const location = join.headers.get("location")!;
        assert.ok(location.startsWith(`${holder.apiUrl}join?`), location);
        const atServer = await rawGet(location);
        assert.equal(atServer.status, 302, `the fake refused the join bbblb signed: ${atServer.body}`);
        assert.deepEqual(
          holder.meetings.get(SPECIAL_ID)!.participants.map((p) => [p.fullName, p.role]),
          [[SPECIAL_NAME, "VIEWER"]],
        );

        const info = await rawGet(api.monitoring.getMeetingInfo(SPECIAL_ID));
        assert.match(info.body, /<participantCount>1<\/participantCount>/, info.body);
        const all: Parsed = await bbb.http(api.monitoring.getMeetings());
        assert.ok(
          all.meetings.some((m: Parsed) => unescapeXml(String(m.meetingID)) === SPECIAL_ID),
          JSON.stringify(all.meetings.map((m: Parsed) => m.meetingID)),
        );
      },
    );

    await t.step(
      "SIGTERM stops serve promptly with exit 0, and no secret ever reached its output",
      async () => {
        const started = Date.now();
        const status = await serve!.terminate();
        assert.equal(status.code, 0, serve!.stderr);
        // a liveness check (it does not hang), not a speed goal: the bound is generous
        assert.ok(Date.now() - started < 20_000, `serve took ${Date.now() - started} ms to stop`);
        const output = serve!.stdout + serve!.stderr;
        assert.ok(output.includes("listening"), output);
        for (const secret of [API_SECRET, ...fakes.map((f) => f.secret)]) {
          assert.ok(!output.includes(secret), "a secret appeared in serve's output");
        }
      },
    );
  } finally {
    await serve?.kill();
    for (const fake of fakes) await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
