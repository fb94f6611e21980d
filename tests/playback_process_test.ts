/**
 * Playback as an operator sets it up: `./bbblb serve` with `--recordings-dir`, `--playback-player-dir` and
 * `--protected-recordings` in a real process, a recording migrated with `bbblb recording import`, and the player
 * and files reached over HTTP; a player folder without `index.html` is refused at start with one line.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeBbb } from "./fake_bbb.ts";
import { createStore, runBbblb, signedPath, startServe } from "./bbblb_process.ts";
import { writeStandInPlayer } from "./recording_fixtures.ts";

const SECRET = "process-secret-0123456789";

Deno.test("serve serves the player and a protected recording's files; a player folder without index.html is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-playproc-" });
  const fake = await FakeBbb.start({ secret: "node-secret-0123" });
  try {
    const env = { BBBLB_KV: `${dir}/bbblb.kv`, BBBLB_RECORDINGS_DIR: `${dir}/recordings` };
    await createStore(env.BBBLB_KV);
    const rec = fake.addRecording("old-room");
    await fake.writePublished(rec.recordID, `${dir}/published`, { formats: ["presentation"] });
    const imported = await runBbblb(["recording", "import", `${dir}/published`], { env });
    assert.equal(imported.code, 0, imported.stderr);

    const refused = await runBbblb(["serve", "--port", "0", "--playback-player-dir", `${dir}/empty`], {
      env,
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^bbblb: --playback-player-dir: .*index\.html is missing[^\n]*\n$/);

    await writeStandInPlayer(`${dir}/player`);
    const serve = await startServe({
      kv: env.BBBLB_KV,
      secret: SECRET,
      env: { BBBLB_RECORDINGS_DIR: env.BBBLB_RECORDINGS_DIR },
      args: ["--playback-player-dir", `${dir}/player`, "--protected-recordings", "on", "--log-level", "warn"],
    });
    try {
      const base = `http://127.0.0.1:${serve.port}`;
      const id = rec.recordID;
      const bare = await fetch(`${base}/playback/presentation/2.3/${id}`);
      assert.equal(bare.status, 403);
      await bare.body?.cancel();
      const list = await (await fetch(`${base}/bigbluebutton/api/${signedPath("getRecordings", "", SECRET)}`))
        .text();
      const link = /<url>([^<]*)<\/url>/.exec(list)![1];
      assert.ok(link.startsWith(`${base}/playback/presentation/2.3/${id}?bbblb_grant=`), link);
      const traded = await fetch(link, { redirect: "manual" });
      assert.equal(traded.status, 303);
      const cookie = traded.headers.getSetCookie()[0].split(";")[0];
      const page = await fetch(`${base}/playback/presentation/2.3/${id}`, { headers: { cookie } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /stand-in player/);
      const svg = await fetch(`${base}/presentation/${id}/shapes.svg`, { headers: { cookie } });
      assert.equal(svg.status, 200);
      assert.match(await svg.text(), /<svg/);
    } finally {
      await serve.kill();
    }
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
