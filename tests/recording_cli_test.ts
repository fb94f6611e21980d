/**
 * `bbblb recording import|list|publish|unpublish|delete` as an operator runs them (`./bbblb` subprocesses on a
 * file store): migrating a published folder and a tar.gz, tenants, and one-line errors with their exit codes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeBbb } from "./fake_bbb.ts";
import { createStore, runBbblb } from "./bbblb_process.ts";
import { tarFolder } from "./recording_fixtures.ts";

Deno.test("bbblb recording import migrates a published folder and a tar.gz; list, unpublish and delete manage them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-reccli-" });
  const fake = await FakeBbb.start({ secret: "cli-node-secret" });
  try {
    const env = { BBBLB_KV: `${dir}/bbblb.kv`, BBBLB_RECORDINGS_DIR: `${dir}/recordings` };
    const run = (...args: string[]) => runBbblb(args, { env });
    await createStore(env.BBBLB_KV);
    assert.equal((await run("add-server", "1", fake.url, fake.secret, "--no-check")).code, 0);
    assert.equal((await run("tenant", "add", "law", "--secret", "law-secret-0123456789")).code, 0);
    const a = fake.addRecording("old-room");
    const b = fake.addRecording("law~moot-court", { metadata: { "bbblb-tenant": "law" } });
    await fake.writePublished(a.recordID, `${dir}/published`, { formats: ["presentation", "video"] });
    await fake.writePublished(b.recordID, `${dir}/other`);

    // b names tenant law, which bbblb has no history of: refused without --tenant, and nothing is kept
    const refused = await run("recording", "import", `${dir}/other`);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /^failed .* names tenant "law"/m);
    assert.equal(refused.stderr.trim().split("\n").length, 1);
    await tarFolder(`${dir}/other`, `${dir}/other.tar.gz`, { gzip: true });
    const law = await run("recording", "import", `${dir}/other.tar.gz`, "--tenant", "law", "--unpublished");
    assert.equal(law.code, 0, law.stderr);
    assert.match(law.stdout, new RegExp(`imported ${b.recordID} presentation \\(tenant law\\)`));

    const imported = await run("recording", "import", `${dir}/published`);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /2 format\(s\) imported, 0 failed/);
    // the source is left as it was
    assert.ok((await Deno.stat(`${dir}/published/video/${a.recordID}/video-0.m4v`)).isFile);
    assert.ok((await Deno.stat(`${dir}/recordings/video/${a.recordID}/video-0.m4v`)).isFile);

    const list = JSON.parse((await run("recording", "list", "--json")).stdout);
    assert.deepEqual(
      list.map((
        r: { recordID: string; tenant: string; meetingID: string; state: string; formats: string[] },
      ) => [
        r.recordID,
        r.tenant,
        r.meetingID,
        r.state,
        r.formats.join(","),
      ]).sort(),
      [
        [a.recordID, "default", "old-room", "published", "presentation,video"],
        [b.recordID, "law", "moot-court", "unpublished", "presentation"],
      ].sort(),
    );
    const lawOnly = await run("recording", "list", "--tenant", "law");
    assert.match(lawOnly.stdout, new RegExp(b.recordID));
    assert.doesNotMatch(lawOnly.stdout, new RegExp(a.recordID));

    assert.match((await run("recording", "unpublish", a.recordID)).stdout, /: unpublished/);
    assert.match((await run("recording", "delete", a.recordID)).stdout, /: deleted/);
    const unknown = await run("recording", "publish", a.recordID, "nope");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^bbblb: not in custody: nope \(nothing was changed\)\n$/);
    const noDir = await runBbblb(["recording", "import", `${dir}/published`], {
      env: { BBBLB_KV: env.BBBLB_KV },
    });
    assert.equal(noDir.code, 2);
    assert.match(noDir.stderr, /^bbblb: .*--recordings-dir.*\n$/);
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
