/**
 * Tests of export and import: a round trip keeps servers (with secrets), settings, running meetings, history
 * and create parameters, and the restored store serves the same meetings; an import refuses a store that is
 * not empty unless forced, and a file that is not an export.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createApp } from "../api/app.ts";
import { assertLoadsExact, holder, PUBLIC_URL, SECRET, setup, sign, tag } from "../../tests/harness.ts";
import { encodeQuery } from "../bbb/query.ts";
import { BackupError, type ExportDoc, exportStore, importStore, validateExport } from "./backup.ts";
import { internalKey } from "./settings.ts";
import { keys } from "./keys.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import { addTenant, emptyTenant, getTenant, updateTenant } from "./tenants.ts";
import { getRecording, listRecordingsByStart, recordingStats, updateRecording } from "./recordings.ts";
import { DEFAULT_TENANT } from "./keys.ts";
import { indexRecord } from "../../tests/recording_fixtures.ts";

/** An export without its timestamp, for comparisons. */
function comparable(doc: ExportDoc): Omit<ExportDoc, "exportedAt"> {
  const { exportedAt: _, ...rest } = doc;
  return rest;
}

Deno.test("export then import into an empty store restores servers, settings, meetings and history", async () => {
  await using h = await setup({ servers: 2 });
  await h.kv.set(keys.setting("secret"), "generated-secret-0123456789");
  const linkKey = await internalKey(h.kv, "link_key");
  assert.match(
    await h.text("create", {
      meetingID: "lecture",
      name: "Lecture",
      voiceBridge: "70001",
      meta_course: "bio",
    }),
    /SUCCESS/,
  );
  assert.match(await h.text("create", { meetingID: "seminar", name: "Seminar", load: "3" }), /SUCCESS/);
  assert.match(await h.text("create", { meetingID: "ended", name: "Ended" }), /SUCCESS/);
  assert.match(await h.text("end", { meetingID: "ended" }), /SUCCESS/);
  assert.match(await h.text("move", { meetingID: "seminar" }), /SUCCESS/);

  const doc = await exportStore(h.kv);
  assert.equal(doc.format, "bbblb-export");
  assert.equal(doc.schemaVersion, SCHEMA_VERSION);
  assert.deepEqual(doc.servers.map((s) => s.secret), ["fake-secret-1", "fake-secret-2"]);
  assert.equal(doc.settings.secret, "generated-secret-0123456789");
  assert.deepEqual(doc.meetings.map((m) => m.meetingID).sort(), ["lecture", "seminar"]);
  assert.equal(doc.history.length, 4, "lecture, seminar before and after the move, ended");

  // Through JSON, as the file carries it.
  await using restored = await Deno.openKv(":memory:");
  const report = await importStore(restored, validateExport(JSON.parse(JSON.stringify(doc))));
  assert.deepEqual(report, { servers: 2, meetings: 2, history: 4, settings: 2, recordings: 0 });
  assert.deepEqual(comparable(await exportStore(restored)), comparable(doc));
  assert.deepEqual(await internalKey(restored, "link_key"), linkKey);
  await assertLoadsExact(restored);

  // The restored store serves the running meetings: a join goes to the server holding it, the dial-in PIN is
  // still reserved, and a move re-creates it from its create parameters.
  const app = createApp({
    kv: restored,
    secrets: () => [SECRET],
    publicUrl: PUBLIC_URL,
    backendTimeoutMs: 1000,
  });
  const call = (name: string, params: Record<string, string>) =>
    app.request(`/bigbluebutton/api/${name}?${sign(name, encodeQuery(Object.entries(params)))}`);
  const join = await call("join", { meetingID: "lecture", fullName: "Ann", role: "VIEWER" });
  assert.equal(join.status, 302);
  assert.ok(join.headers.get("location")!.startsWith(h.fakes[holder(h.fakes, "lecture")].url));
  const clash = await (await call("create", { meetingID: "other", name: "Other", voiceBridge: "70001" }))
    .text();
  assert.equal(tag(clash, "key"), "nonUniqueVoiceBridge");
  const before = holder(h.fakes, "lecture");
  assert.match(await (await call("move", { meetingID: "lecture" })).text(), /SUCCESS/);
  assert.notEqual(holder(h.fakes, "lecture"), before);
  const lecture = h.fakes[holder(h.fakes, "lecture")].meetings.get("lecture")!;
  assert.equal(lecture.meetingName, "Lecture");
  assert.equal(lecture.metadata.course, "bio");
});

Deno.test("import refuses a store that is not empty, and --force replaces its content", async () => {
  await using h = await setup({ servers: 1 });
  const doc = await exportStore(h.kv);
  await using other = await setup({ servers: 2 });
  await assert.rejects(
    () => importStore(other.kv, doc),
    (e: unknown) => e instanceof BackupError && e.exitCode === 1 && /the store is not empty/.test(e.message),
  );
  assert.equal((await exportStore(other.kv)).servers.length, 2, "a refused import changed the store");
  await importStore(other.kv, doc, { force: true });
  assert.deepEqual((await exportStore(other.kv)).servers, doc.servers);
});

Deno.test("a file that is not a bbblb export, or from a newer bbblb, is refused naming the problem", () => {
  const refused = (raw: unknown, pattern: RegExp) =>
    assert.throws(
      () => validateExport(raw),
      (e: unknown) => e instanceof BackupError && e.exitCode === 2 && pattern.test(e.message),
    );
  refused([], /not a JSON object|"format"/);
  refused({ format: "scalelite" }, /"format" is not "bbblb-export"/);
  const base = {
    format: "bbblb-export",
    version: 1,
    schemaVersion: SCHEMA_VERSION,
    servers: [],
    settings: {},
    meetings: [],
    history: [],
    createParams: {},
  };
  refused({ ...base, schemaVersion: SCHEMA_VERSION + 1 }, /use a newer bbblb/);
  refused({ ...base, servers: [{ id: "one" }] }, /servers\[0\] is not a server/);
  assert.equal(validateExport(base).servers.length, 0);
});

Deno.test("an export keeps the tenants with their secrets and rules, and an import restores them", async () => {
  const kv = await Deno.openKv(":memory:");
  const target = await Deno.openKv(":memory:");
  try {
    await addTenant(kv, { ...emptyTenant("law"), secrets: ["law-secret-1234"], host: "law.example.org" });
    await updateTenant(kv, "default", (t) => ({ ...t, maxMeetings: 5 }));
    const doc = JSON.parse(JSON.stringify(await exportStore(kv)));
    await importStore(target, validateExport(doc));
    assert.deepEqual((await getTenant(target, "law"))?.secrets, ["law-secret-1234"]);
    assert.equal((await getTenant(target, "law"))?.host, "law.example.org");
    assert.equal((await getTenant(target, "default"))?.maxMeetings, 5);
  } finally {
    kv.close();
    target.close();
  }
});

Deno.test("an export keeps the index of central recordings, and an import restores it with its listing order", async () => {
  const kv = await Deno.openKv(":memory:");
  const target = await Deno.openKv(":memory:");
  try {
    const old = indexRecord({ meetingID: "lecture", startTime: Date.UTC(2026, 0, 1) });
    const newer = indexRecord({
      meetingID: "lecture",
      startTime: Date.UTC(2026, 0, 2),
      state: "unpublished",
    });
    for (const r of [old, newer]) await updateRecording(kv, r.recordID, () => r);
    const doc = validateExport(JSON.parse(JSON.stringify(await exportStore(kv))));
    assert.equal(doc.recordings?.length, 2);
    const report = await importStore(target, doc);
    assert.equal(report.recordings, 2);
    assert.equal((await getRecording(target, newer.recordID))?.value.state, "unpublished");
    const listed = await listRecordingsByStart(target, DEFAULT_TENANT);
    assert.deepEqual(listed.map((s) => s.recordID), [old.recordID, newer.recordID]);
    assert.equal((await recordingStats(target)).count, 2);
  } finally {
    kv.close();
    target.close();
  }
});
