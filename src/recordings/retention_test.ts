import assert from "node:assert/strict";
import { setup, sign } from "../../tests/harness.ts";
import { recordThroughBbblb, uploadPublished, withTempDir } from "../../tests/recording_fixtures.ts";
import { encodeQuery } from "../bbb/query.ts";
import { createLogger } from "../log.ts";
import { getRecording, setRecordingState } from "../store/recordings.ts";
import { addTenant, emptyTenant } from "../store/tenants.ts";
import { runRetention } from "./retention.ts";
import { setRecordingsStateCommand } from "../cli/recordings.ts";

const DAY = 24 * 3600_000;
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("retention with an injected clock: a tenant's recordings are deleted after its days, deleted ones purged after the keep days, once per minute across instances, each logged", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir, routedFallback: false });
    await addTenant(h.kv, {
      ...emptyTenant("law"),
      secrets: ["law-secret-123456"],
      deleteRecordingsAfterDays: 30,
    });
    const lawCall = async (name: string, params: Record<string, string>) =>
      await h.app.request(
        `/bigbluebutton/api/${name}?${sign(name, encodeQuery(Object.entries(params)), "law-secret-123456")}`,
      );
    const law = await recordThroughBbblb(h, "course", {}, lawCall);
    await uploadPublished(h, law, { formats: ["presentation", "video"] });
    const mine = await recordThroughBbblb(h, "course");
    await uploadPublished(h, mine);
    const lawId = law.recording.recordID;
    const myId = mine.recording.recordID;
    const start = (await getRecording(h.kv, lawId))!.value.startTime;
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
    const run = (now: number, owner = "a") =>
      runRetention({ kv: h.kv, dir, log, keepDeletedDays: 14, owner, now });

    // a minute before 30 days: nothing
    let report = await run(start + 30 * DAY - 60_000);
    assert.deepEqual(report, { ran: true, deleted: [], purged: [] });
    // at 30 days: law's recording is deleted (files kept), the default tenant's (no retention) is not
    const deletedAt = start + 30 * DAY + 60_000;
    report = await run(deletedAt);
    assert.deepEqual(report.deleted, [lawId]);
    assert.equal((await getRecording(h.kv, lawId))!.value.state, "deleted");
    assert.equal((await getRecording(h.kv, myId))!.value.state, "published");
    assert.ok(await exists(`${dir}/presentation/${lawId}/metadata.xml`), "files kept while deleted");
    assert.ok(
      lines.some((l) =>
        l.msg === "recording deleted by retention" && l.recordID === lawId && l.tenant === "law"
      ),
    );

    // the default tenant deletes its own recording through the API: its keep days start then
    const apiDeleted = deletedAt + 5 * DAY;
    assert.ok(await setRecordingState(h.kv, myId, ["published"], "deleted", apiDeleted));

    // two instances in the same minute: one runs
    const t = deletedAt + 14 * DAY - 60_000;
    const both = await Promise.all([run(t, "a"), run(t + 1000, "b")]);
    assert.deepEqual(both.map((r) => r.ran).sort(), [false, true]);
    assert.ok(both.every((r) => r.purged.length === 0), "purged a minute early");

    // 14 days after its deletion: law's files are purged, its record stays deleted and stripped
    report = await run(deletedAt + 14 * DAY);
    assert.deepEqual(report.purged, [lawId]);
    assert.equal(await exists(`${dir}/presentation/${lawId}`), false);
    assert.equal(await exists(`${dir}/video/${lawId}`), false);
    const tomb = (await getRecording(h.kv, lawId))!.value;
    assert.equal(tomb.state, "deleted");
    assert.deepEqual(tomb.formats, {});
    assert.deepEqual(tomb.meta, {});
    assert.ok(tomb.purgedAt);
    assert.ok(lines.some((l) => l.msg === "recording purged" && l.recordID === lawId && l.tenant === "law"));
    // nothing is left to publish: the operator's command says so and changes nothing
    await assert.rejects(
      setRecordingsStateCommand(h.kv, [lawId], "publish"),
      /purged, their files are gone: .* \(nothing was changed\)/,
    );
    assert.equal((await getRecording(h.kv, lawId))!.value.state, "deleted");
    assert.ok(await exists(`${dir}/presentation/${myId}/metadata.xml`), "deleted 5 days later: still kept");
    // a later run purges nothing twice; the default tenant's goes 14 days after its own deletion
    assert.deepEqual((await run(apiDeleted + 14 * DAY - 60_000)).purged, []);
    assert.deepEqual((await run(apiDeleted + 14 * DAY)).purged, [myId]);
    assert.equal(await exists(`${dir}/presentation/${myId}`), false);
    assert.equal(lines.filter((l) => l.msg === "recording purged").length, 2);
  });
});

Deno.test("a recording published again before its keep days run out is not purged", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir, routedFallback: false });
    const made = await recordThroughBbblb(h, "oops");
    await uploadPublished(h, made);
    const id = made.recording.recordID;
    assert.match(await h.text("deleteRecordings", { recordID: id }), /SUCCESS/);
    const deletedAt = (await getRecording(h.kv, id))!.value.deletedAt!;
    assert.ok(deletedAt > 0);
    // the operator undoes the delete (bbblb recording publish also undeletes)
    assert.ok(await setRecordingState(h.kv, id, ["deleted"], "published", deletedAt + DAY));
    const report = await runRetention({
      kv: h.kv,
      dir,
      log: createLogger({ write: () => {} }),
      keepDeletedDays: 14,
      owner: "a",
      now: deletedAt + 20 * DAY,
    });
    assert.deepEqual(report.purged, []);
    assert.ok(await exists(`${dir}/presentation/${id}/metadata.xml`));
    assert.equal((await getRecording(h.kv, id))!.value.state, "published");
  });
});
