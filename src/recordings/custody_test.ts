/**
 * Tests of central custody with several instances: two `serve` processes sharing one store and one recordings
 * directory import uploads that arrive at both at once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { setup } from "../../tests/harness.ts";
import { recordThroughBbblb, tarFolder, withTempDir } from "../../tests/recording_fixtures.ts";
import { silentLogger } from "../log.ts";
import { getRecording, getUpload } from "../store/recordings.ts";
import { Custody } from "./custody.ts";

Deno.test("two instances sharing the store and the directory import one recording's formats at once: each once, merged", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir });
    const outcomes: boolean[][] = [[], []];
    const instances = [0, 1].map((i) =>
      new Custody({
        kv: h.kv,
        dir,
        log: silentLogger,
        maxUploadBytes: 1024 ** 3,
        uploadGraceMs: 0,
        owner: `instance-${i}`,
        onOutcome: (ok) => outcomes[i].push(ok),
      })
    );
    const made = await recordThroughBbblb(h, "lecture-2");
    const id = made.recording.recordID;
    // the post_publish script uploads each format on its own, here one to each instance at the same moment
    const archives = await Promise.all(["presentation", "video"].map(async (format) => {
      const tree = await Deno.makeTempDir({ prefix: "bbblb-published-" });
      await h.fakes[0].writePublished(id, tree, { formats: [format] });
      await tarFolder(tree, `${tree}.tar`);
      const bytes = await Deno.readFile(`${tree}.tar`);
      await Deno.remove(tree, { recursive: true });
      await Deno.remove(`${tree}.tar`);
      return bytes;
    }));
    const uploads = await Promise.all(
      instances.map((c, i) => c.receive(new Blob([archives[i]]).stream(), archives[i].length, made.serverId)),
    );
    await Promise.all(instances.map((c) => c.idle()));

    // every format imported exactly once in all (each upload claimed by one instance), and merged in one record
    assert.deepEqual(outcomes.flat(), [true, true]);
    for (const u of uploads) assert.equal((await getUpload(h.kv, u.id))!.state, "imported");
    const record = (await getRecording(h.kv, id))!.value;
    assert.deepEqual(Object.keys(record.formats).sort(), ["presentation", "video"]);
    assert.ok((await Deno.stat(`${dir}/presentation/${id}/metadata.xml`)).isFile);
    assert.ok((await Deno.stat(`${dir}/video/${id}/metadata.xml`)).isFile);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/.staging`)), []);
  });
});
