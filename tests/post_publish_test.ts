/**
 * The shipped post_publish script (`deploy/bbb/bbblb_post_publish.rb`), run with Debian's ruby as BBB runs it
 * (`ruby script -m <recordID> -f <format>`), against `./bbblb serve --recordings-dir` in its own process and a
 * fake BBB server's published tree; bbblb is driven by the unchanged npm client `bigbluebutton-js`.
 *
 * @module
 */
import assert from "node:assert/strict";
import bbb from "bigbluebutton-js";
import { FakeBbb } from "./fake_bbb.ts";
import { createStore, freePort, ROOT, runBbblb, type ServeProcess, startServe } from "./bbblb_process.ts";

const SCRIPT = new URL("deploy/bbb/bbblb_post_publish.rb", ROOT).pathname;
const API_SECRET = "post-publish-api-secret-0123456789";

// deno-lint-ignore no-explicit-any
type Parsed = any;

/** Run the script with ruby; fails with an install hint when ruby is missing. */
async function ruby(
  args: string[],
  config: string,
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  let out;
  try {
    out = await new Deno.Command("ruby", {
      args: [SCRIPT, ...args],
      env: { BBBLB_UPLOAD_CONFIG: config },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error("ruby is not installed: apt-get install -y ruby");
    throw e;
  }
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
    ms: Date.now() - started,
  };
}

/** Poll `check` until it holds (generous deadline: the uploader backs off while bbblb is down). */
async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

interface Site {
  dir: string;
  kv: string;
  recordings: string;
  published: string;
  config: string;
  log: string;
  port: number;
  fake: FakeBbb;
}

async function site(): Promise<Site> {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-postpublish-" });
  const fake = await FakeBbb.start({ secret: `node-secret-${crypto.randomUUID()}` });
  const port = freePort();
  const s: Site = {
    dir,
    kv: `${dir}/bbblb.kv`,
    recordings: `${dir}/recordings`,
    published: `${dir}/node/published`,
    config: `${dir}/bbblb.yml`,
    log: `${dir}/upload.log`,
    port,
    fake,
  };
  await Deno.mkdir(s.published, { recursive: true });
  await Deno.writeTextFile(
    s.config,
    [
      `url: http://127.0.0.1:${port}`,
      `secret: ${fake.secret}`,
      `server_url: http://127.0.0.1:${fake.port}`,
      `published_dir: ${s.published}`,
      `spool_dir: ${dir}/node/spool`,
      `log_file: ${s.log}`,
      "first_retry: 1",
      "max_retry: 2",
      "retry_for: 120",
      "import_wait: 60",
      "bbb_properties: []",
    ].join("\n") + "\n",
  );
  await createStore(s.kv);
  const added = await runBbblb(["add-server", "1", fake.url, fake.secret], { env: { BBBLB_KV: s.kv } });
  assert.equal(added.code, 0, added.stderr);
  return s;
}

async function serveOn(s: Site): Promise<ServeProcess> {
  return await startServe({
    kv: s.kv,
    secret: API_SECRET,
    port: s.port,
    args: ["--recordings-dir", s.recordings, "--poll-interval", "60"],
  });
}

Deno.test("a recording made through bbblb reaches it through the shipped script, even while bbblb was down", async () => {
  const s = await site();
  let serve: ServeProcess | undefined;
  try {
    serve = await serveOn(s);
    const api = bbb.api(serve.url, API_SECRET);
    const created: Parsed = await bbb.http(
      api.administration.create("Physics 1", "physics-1", { record: true }),
    );
    assert.equal(created.returncode, "SUCCESS");
    const meeting = s.fake.meetings.get("physics-1")!;
    const rec = s.fake.addRecording("physics-1", {
      internalMeetingID: meeting.internalMeetingID,
      startTime: meeting.createTime,
      name: "Physics 1",
    });
    await s.fake.writePublished(rec.recordID, s.published, { formats: ["presentation", "video"] });
    // bbblb goes down; BBB publishes and runs the script once per format
    await serve.terminate();
    serve = undefined;
    for (const format of ["presentation", "video"]) {
      const run = await ruby(["-m", rec.recordID, "-f", format], s.config);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.ms < 5000, `the script held BBB's pipeline for ${run.ms} ms`);
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(await exists(`${s.published}/video/${rec.recordID}`), "the copy stays while bbblb is down");
    serve = await serveOn(s);
    // the detached uploaders retry, upload, wait for the import and remove the node's copy
    await eventually(
      "the node's copies to be removed after the import",
      async () =>
        !(await exists(`${s.published}/presentation/${rec.recordID}`)) &&
        !(await exists(`${s.published}/video/${rec.recordID}`)),
    );
    assert.match(await Deno.readTextFile(s.log), /retrying/);
    assert.ok(await exists(`${s.recordings}/presentation/${rec.recordID}/metadata.xml`));
    const listed: Parsed = await bbb.http(api.recording.getRecordings({ meetingID: "physics-1" }));
    assert.equal(listed.returncode, "SUCCESS");
    assert.equal(listed.recordings.length, 1);
    const r = listed.recordings[0];
    assert.equal(r.recordID, rec.recordID);
    const formats = [r.playback.format].flat();
    assert.deepEqual(formats.map((f: Parsed) => f.type).sort(), ["presentation", "video"]);
    for (const f of formats) {
      assert.ok(String(f.url).startsWith(`http://127.0.0.1:${s.port}/playback/`), f.url);
    }

    // the server is removed (its recordings with it): bbblb keeps serving the recording's data
    s.fake.recordings.clear();
    const removed = await runBbblb(["remove-server", "1", "--force", "--kv", s.kv]);
    assert.equal(removed.code, 0, removed.stderr);
    const after: Parsed = await bbb.http(api.recording.getRecordings({ recordID: rec.recordID }));
    assert.equal(after.recordings.length, 1);

    // and front-ends manage it through bbblb
    const unpublished: Parsed = await bbb.http(api.recording.publishRecordings(rec.recordID, false));
    assert.equal(unpublished.returncode, "SUCCESS");
    const state: Parsed = await bbb.http(
      api.recording.getRecordings({ recordID: rec.recordID, state: "any" }),
    );
    assert.equal(state.recordings[0].state, "unpublished");
    const updated: Parsed = await bbb.http(
      api.recording.updateRecordings(rec.recordID, { "meta_topic": "optics" }),
    );
    assert.equal(updated.returncode, "SUCCESS");
    const meta: Parsed = await bbb.http(
      api.recording.getRecordings({ recordID: rec.recordID, state: "any" }),
    );
    assert.equal(meta.recordings[0].metadata.topic, "optics");
    const published: Parsed = await bbb.http(api.recording.publishRecordings(rec.recordID, true));
    assert.equal(published.returncode, "SUCCESS");
    const deleted: Parsed = await bbb.http(api.recording.deleteRecordings(rec.recordID));
    assert.equal(deleted.returncode, "SUCCESS");
    const gone: Parsed = await bbb.http(api.recording.getRecordings({ meetingID: "physics-1" }));
    assert.equal(gone.messageKey, "noRecordings");
    const status = await serve.terminate();
    serve = undefined;
    assert.equal(status.code, 0);
  } finally {
    await serve?.kill();
    await s.fake.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("--backfill uploads every recording already on a node and reports what was imported", async () => {
  const s = await site();
  let serve: ServeProcess | undefined;
  try {
    serve = await serveOn(s);
    const old = [s.fake.addRecording("old-lecture-1"), s.fake.addRecording("old-lecture-2")];
    for (const r of old) await s.fake.writePublished(r.recordID, s.published);
    // one that names a tenant bbblb has no history of: bbblb refuses it, the node keeps it
    await runBbblb(["tenant", "add", "law", "--secret", "law-secret-0123456789", "--kv", s.kv]);
    const claimed = s.fake.addRecording("law~forged", { metadata: { "bbblb-tenant": "law" } });
    await s.fake.writePublished(claimed.recordID, s.published);
    const run = await ruby(["--backfill"], s.config);
    assert.equal(run.code, 1, run.stderr + run.stdout);
    assert.match(run.stdout, /2 imported, 1 not imported/);
    for (const r of old) assert.equal(await exists(`${s.published}/presentation/${r.recordID}`), false);
    assert.ok(await exists(`${s.published}/presentation/${claimed.recordID}`));
    const list = await runBbblb(["recording", "list", "--json", "--kv", s.kv]);
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout);
    assert.deepEqual(
      rows.map((r: { recordID: string }) => r.recordID).sort(),
      old.map((r) => r.recordID).sort(),
    );
    assert.ok(rows.every((r: { tenant: string }) => r.tenant === "default"));
  } finally {
    await serve?.kill();
    await s.fake.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});
