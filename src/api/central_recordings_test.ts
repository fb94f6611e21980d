import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PUBLIC_URL, SECRET, setup, sign, tag } from "../../tests/harness.ts";
import {
  indexRecord,
  recordThroughBbblb,
  uploadPublished,
  withTempDir,
} from "../../tests/recording_fixtures.ts";
import { byStart } from "../recordings/listing.ts";
import { encodeQuery } from "../bbb/query.ts";
import { addTenant, emptyTenant } from "../store/tenants.ts";
import { getRecording, type RecordingRecord, updateRecording } from "../store/recordings.ts";
import { removeServer } from "../store/servers.ts";

const recordIDs = (xml: string) => [...xml.matchAll(/<recordID>([^<]*)<\/recordID>/g)].map((m) => m[1]);
const urls = (xml: string) => [...xml.matchAll(/<url>([^<]*)<\/url>/g)].map((m) => m[1]);

Deno.test("getRecordings lists an imported recording with every link on bbblb, and it survives its server's removal", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 2, recordingsDir: dir, routedFallback: false });
    const made = await recordThroughBbblb(h, "lecture-7", { "meta_gl-listed": "true" });
    await uploadPublished(h, made, { formats: ["presentation", "video"] });
    const id = made.recording.recordID;
    const body = await h.text("getRecordings", { meetingID: "lecture-7" });
    assert.equal(tag(body, "returncode"), "SUCCESS");
    assert.deepEqual(recordIDs(body), [id]);
    assert.equal(tag(body, "meetingID"), "lecture-7");
    assert.equal(tag(body, "published"), "true");
    assert.equal(tag(body, "state"), "published");
    assert.equal(tag(body, "gl-listed"), "true");
    assert.deepEqual(urls(body), [
      `${PUBLIC_URL}/playback/presentation/2.3/${id}`,
      `${PUBLIC_URL}/playback/video/${id}/`,
    ]);
    assert.match(
      body,
      new RegExp(`<image width="176" height="136" alt="Slide 1">${PUBLIC_URL}/presentation/${id}/`),
    );
    assert.doesNotMatch(body, /127\.0\.0\.1/);
    // the server goes away (and its recordings with it): bbblb still has it
    h.fakes[made.fakeIndex].recordings.clear();
    await removeServer(h.kv, made.serverId, true);
    assert.deepEqual(recordIDs(await h.text("getRecordings", { meetingID: "lecture-7" })), [id]);
    assert.deepEqual(recordIDs(await h.text("getRecordings", { recordID: id })), [id]);
  });
});

Deno.test("publish, unpublish, update and delete act on the central copy, and a re-import keeps those changes", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir, routedFallback: false });
    const made = await recordThroughBbblb(h, "room-pud");
    await uploadPublished(h, made);
    const id = made.recording.recordID;
    const state = async () => tag(await h.text("getRecordings", { recordID: id, state: "any" }), "state");
    assert.equal(
      tag(await h.text("publishRecordings", { recordID: id, publish: "false" }), "published"),
      "false",
    );
    assert.equal(await state(), "unpublished");
    assert.deepEqual(recordIDs(await h.text("getRecordings", { state: "published" })), []);
    assert.equal(
      tag(await h.text("updateRecordings", { recordID: id, "meta_course": "Law 101" }), "updated"),
      "true",
    );
    assert.equal(tag(await h.text("getRecordings", { recordID: id }), "course"), "Law 101");
    assert.deepEqual(recordIDs(await h.text("getRecordings", { "meta_course": "Law%" })), [id]);
    // the server rebuilds the recording and uploads it again: new files, the front-end's changes stay
    await uploadPublished(h, made, {
      edit: async (tree) =>
        await Deno.writeTextFile(`${tree}/presentation/${id}/shapes.svg`, "<svg>rebuilt</svg>"),
    });
    assert.equal(await Deno.readTextFile(`${dir}/presentation/${id}/shapes.svg`), "<svg>rebuilt</svg>");
    assert.equal(await state(), "unpublished");
    assert.equal(tag(await h.text("getRecordings", { recordID: id, state: "any" }), "course"), "Law 101");
    assert.equal(
      tag(await h.text("updateRecordings", { recordID: id, "meta_course": "" }), "updated"),
      "true",
    );
    assert.equal(tag(await h.text("getRecordings", { recordID: id, state: "any" }), "course"), undefined);
    assert.equal(
      tag(await h.text("publishRecordings", { recordID: id, publish: "true" }), "published"),
      "true",
    );
    assert.equal(await state(), "published");
    assert.equal(tag(await h.text("deleteRecordings", { recordID: id }), "deleted"), "true");
    assert.equal(await state(), "deleted");
    assert.deepEqual(recordIDs(await h.text("getRecordings")), []);
    // deleted: BBB's calls no longer find it
    assert.equal(
      tag(await h.text("publishRecordings", { recordID: id, publish: "true" }), "messageKey"),
      "notFound",
    );
    assert.equal(tag(await h.text("deleteRecordings", { recordID: id }), "messageKey"), "notFound");
    assert.equal(
      tag(await h.text("publishRecordings", { recordID: id }), "messageKey"),
      "missingParamPublish",
    );
    assert.equal(tag(await h.text("deleteRecordings", {}), "messageKey"), "missingParamRecordID");
  });
});

Deno.test("filters and paging over the index behave as BBB's: meetingID lists, recordID prefixes, states, limit", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 2, recordingsDir: dir, routedFallback: false });
    const ids: string[] = [];
    for (const m of ["a-1", "a-2", "b-1", "a-1"]) {
      const made = await recordThroughBbblb(h, m);
      await uploadPublished(h, made);
      ids.push(made.recording.recordID);
      await h.call("end", { meetingID: m });
    }
    assert.deepEqual(recordIDs(await h.text("getRecordings", { meetingID: "a-1" })), [ids[0], ids[3]]);
    assert.deepEqual(recordIDs(await h.text("getRecordings", { meetingID: "a-1,b-1" })), [
      ids[0],
      ids[2],
      ids[3],
    ]);
    const prefix = createHash("sha1").update("a-2").digest("hex");
    assert.deepEqual(recordIDs(await h.text("getRecordings", { recordID: prefix })), [ids[1]]);
    assert.deepEqual(recordIDs(await h.text("getRecordings", { meetingID: "never" })), []);
    assert.equal(tag(await h.text("getRecordings", { meetingID: "never" }), "messageKey"), "noRecordings");
    const page = await h.text("getRecordings", { offset: "1", limit: "2" });
    assert.deepEqual(recordIDs(page), [ids[1], ids[2]]);
    assert.equal(tag(page, "totalElements"), "4");
    await h.text("publishRecordings", { recordID: ids[2], publish: "false" });
    assert.deepEqual(recordIDs(await h.text("getRecordings", { state: "unpublished" })), [ids[2]]);
    assert.equal(recordIDs(await h.text("getRecordings", { state: "published,unpublished" })).length, 4);
  });
});

Deno.test("a page from the start-time index lists what the whole list lists there, with state and meta filters, per tenant", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir, routedFallback: false });
    await addTenant(h.kv, { ...emptyTenant("law"), secrets: ["law-secret-123456"] });
    const t0 = 1_700_000_000_000;
    const made: RecordingRecord[] = [];
    // written out of start order; two share a start time (then recordID orders them)
    for (let i = 0; i < 150; i++) {
      const n = (i * 37) % 150;
      const r = indexRecord({
        meetingID: `room-${n % 40}`,
        startTime: t0 + (n === 149 ? 148 : n) * 60_000,
        tenant: n % 5 === 0 ? "law" : undefined,
        state: n % 7 === 0 ? "unpublished" : n % 11 === 0 ? "deleted" : "published",
        meta: { meetingId: `room-${n % 40}`, "gl-listed": String(n % 2 === 0) },
      });
      await updateRecording(h.kv, r.recordID, () => r);
      made.push(r);
    }
    const expected = (tenant: string, keep: (r: RecordingRecord) => boolean) =>
      made.filter((r) => r.tenant === tenant && keep(r)).sort(byStart).map((r) => r.recordID);
    const live = (r: RecordingRecord) => r.state !== "deleted";
    const all = await h.text("getRecordings");
    assert.deepEqual(recordIDs(all), expected("", live));
    const page = await h.text("getRecordings", { offset: "50", limit: "20" });
    assert.deepEqual(recordIDs(page), expected("", live).slice(50, 70));
    assert.equal(tag(page, "totalElements"), String(expected("", live).length));
    const listed = await h.text("getRecordings", {
      "meta_gl-listed": "true",
      state: "any",
      offset: "10",
      limit: "15",
    });
    const listedIDs = expected("", (r) => r.meta["gl-listed"] === "true");
    assert.deepEqual(recordIDs(listed), listedIDs.slice(10, 25));
    assert.equal(tag(listed, "totalElements"), String(listedIDs.length));
    const law = await (await h.app.request(
      `/bigbluebutton/api/getRecordings?${sign("getRecordings", "limit=100", "law-secret-123456")}`,
    )).text();
    assert.deepEqual(recordIDs(law), expected("law", live));

    // a metadata change through bbblb and a rebuilt recording with another start time move its index entry
    const moved = expected("", (r) => live(r) && r.meta["gl-listed"] === "false")[3];
    await h.text("updateRecordings", { recordID: moved, "meta_gl-listed": "true" });
    await updateRecording(h.kv, moved, (cur) => ({ ...cur!, startTime: t0 + 1_000 * 60_000 }));
    const after = recordIDs(await h.text("getRecordings", { "meta_gl-listed": "true", state: "any" }));
    assert.equal(after.filter((id) => id === moved).length, 1);
    assert.equal(after.at(-1), moved);
  });
});

Deno.test("tenants see only their own recordings, with links on their own host", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 2, recordingsDir: dir, routedFallback: false });
    await addTenant(h.kv, {
      ...emptyTenant("law"),
      secrets: ["law-secret-123456"],
      host: "bbb-law.example.org",
    });
    const lawCall = async (name: string, params: Record<string, string>) =>
      await h.app.request(
        `/bigbluebutton/api/${name}?${sign(name, encodeQuery(Object.entries(params)), "law-secret-123456")}`,
      );
    const law = await recordThroughBbblb(h, "shared-room", {}, lawCall);
    const dflt = await recordThroughBbblb(h, "shared-room");
    await uploadPublished(h, law);
    await uploadPublished(h, dflt);
    const lawList = await (await lawCall("getRecordings", { meetingID: "shared-room" })).text();
    assert.deepEqual(recordIDs(lawList), [law.recording.recordID]);
    assert.equal(tag(lawList, "meetingID"), "shared-room");
    assert.ok(urls(lawList).every((u) => u.startsWith("http://bbb-law.example.org/playback/")), lawList);
    assert.deepEqual(recordIDs(await h.text("getRecordings")), [dflt.recording.recordID]);
    // another tenant's recordID is unknown to the default tenant's calls, and the other way round
    const lawID = law.recording.recordID;
    assert.equal(tag(await h.text("deleteRecordings", { recordID: lawID }), "messageKey"), "notFound");
    assert.equal(
      tag(
        await (await lawCall("deleteRecordings", { recordID: dflt.recording.recordID })).text(),
        "messageKey",
      ),
      "notFound",
    );
    assert.equal((await getRecording(h.kv, lawID))!.value.tenant, "law");
  });
});

Deno.test("a recording whose metadata names a tenant but that bbblb has no history of is not imported", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir, routedFallback: false });
    await addTenant(h.kv, { ...emptyTenant("law"), secrets: ["law-secret-123456"] });
    // created directly on the node, claiming tenant law
    const rec = h.fakes[0].addRecording("law~stolen", { metadata: { "bbblb-tenant": "law" } });
    const made = { fakeIndex: 0, serverId: 1, recording: rec };
    const { json } = await uploadPublished(h, made);
    assert.equal(json.state, "received");
    assert.equal(await getRecording(h.kv, rec.recordID), null);
    // a recording of no tenant made before bbblb is the default tenant's
    const old = h.fakes[0].addRecording("before-bbblb");
    await uploadPublished(h, { fakeIndex: 0, serverId: 1, recording: old });
    assert.equal((await getRecording(h.kv, old.recordID))!.value.tenant, "");
  });
});

Deno.test("a format with broken metadata.xml fails alone; the other format of the upload is imported", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir, routedFallback: false });
    const made = await recordThroughBbblb(h, "half-broken");
    const id = made.recording.recordID;
    const { json } = await uploadPublished(h, made, {
      formats: ["presentation", "video"],
      edit: async (tree) => await Deno.writeTextFile(`${tree}/video/${id}/metadata.xml`, "<recording><id>"),
    });
    assert.equal(json.state, "received");
    const record = (await getRecording(h.kv, id))!.value;
    assert.deepEqual(Object.keys(record.formats), ["presentation"]);
    assert.equal(await Deno.stat(`${dir}/video/${id}`).then(() => true, () => false), false);
  });
});

Deno.test("the recording-ready callback goes out once, after the import, and the server's own is dropped", async () => {
  await withTempDir(async (dir) => {
    const calls: { url: string; body: string }[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.startsWith("https://lms.example.org/")) {
        calls.push({ url, body: String(init?.body) });
        return new Response("ok");
      }
      return await fetch(input, init);
    };
    await using h = await setup({ servers: 1, recordingsDir: dir, routedFallback: false, fetch: fakeFetch });
    const made = await recordThroughBbblb(h, "ready-room", {
      "meta_bbb-recording-ready-url": "https://lms.example.org/ready?course=3",
    });
    await uploadPublished(h, made, { formats: ["presentation"] });
    await uploadPublished(h, made, { formats: ["video"] });
    await uploadPublished(h, made, { formats: ["presentation"] });
    assert.equal(calls.length, 1);
    assert.equal(calls[0].url, "https://lms.example.org/ready?course=3");
    const token = new URLSearchParams(calls[0].body).get("signed_parameters")!;
    const { jwtVerify } = await import("jose");
    const { payload } = await jwtVerify(token, new TextEncoder().encode(SECRET));
    assert.deepEqual(payload, { meeting_id: "ready-room", record_id: made.recording.recordID });
    // the node's own callback arrives at the relay link it was given: answered, not passed on
    const fake = h.fakes[made.fakeIndex];
    const relay = [...fake.meetings.values()][0].createParams.get("meta_bbb-recording-ready-url")!;
    const { SignJWT } = await import("jose");
    const nodeToken = await new SignJWT({ meeting_id: "ready-room", record_id: made.recording.recordID })
      .setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(fake.secret));
    const res = await h.app.request(new URL(relay).pathname, {
      method: "POST",
      body: new URLSearchParams({ signed_parameters: nodeToken }),
    });
    assert.equal(res.status, 200);
    assert.equal(calls.length, 1);
  });
});

Deno.test("with the routed fallback, recordings still on the servers are listed and routed; off, they are not", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 2, recordingsDir: dir });
    const central = await recordThroughBbblb(h, "mixed");
    await uploadPublished(h, central);
    const onServer = h.fakes[1].addRecording("mixed", { startTime: 1000 });
    const both = await h.text("getRecordings", { meetingID: "mixed" });
    assert.deepEqual(recordIDs(both), [onServer.recordID, central.recording.recordID]);
    // the central copy is listed once, with bbblb's links, though the server still has it too
    assert.equal(urls(both).filter((u) => u.includes(central.recording.recordID)).length, 1);
    assert.equal(
      tag(await h.text("publishRecordings", { recordID: onServer.recordID, publish: "false" }), "published"),
      "false",
    );
    assert.equal(h.fakes[1].recordings.get(onServer.recordID)!.state, "unpublished");
    await using off = await setup({ servers: 1, recordingsDir: dir, routedFallback: false });
    off.fakes[0].addRecording("only-on-server");
    assert.deepEqual(recordIDs(await off.text("getRecordings")), []);
  });
});

Deno.test("text tracks are stored as BBB's caption pipeline does and listed with links on bbblb", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir, routedFallback: false });
    const made = await recordThroughBbblb(h, "captioned");
    await uploadPublished(h, made);
    const id = made.recording.recordID;
    const put = async (params: Record<string, string>, file: string | null, name = "t.srt") => {
      const form = new FormData();
      if (file !== null) form.append("file", new File([file], name));
      const q = sign("putRecordingTextTrack", encodeQuery(Object.entries(params)));
      const res = await h.app.request(`/bigbluebutton/api/putRecordingTextTrack?${q}`, {
        method: "POST",
        body: form,
      });
      return (await res.json()).response;
    };
    const srt =
      "1\r\n00:00:01,000 --> 00:00:02,500\r\nHello\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nWorld\r\n";
    assert.equal(
      (await put({ recordID: id, kind: "subtitles", lang: "en_US" }, srt)).messageKey,
      "upload_text_track_success",
    );
    assert.equal((await put({ recordID: id, kind: "other", lang: "en" }, srt)).messageKey, "invalidKind");
    assert.equal(
      (await put({ recordID: id, kind: "captions", lang: "english" }, srt)).messageKey,
      "invalidLang",
    );
    assert.equal(
      (await put({ recordID: id, kind: "captions", lang: "de" }, "")).messageKey,
      "empty_uploaded_text_track",
    );
    assert.equal(
      (await put({ recordID: "nope", kind: "captions", lang: "de" }, srt)).messageKey,
      "noRecordings",
    );
    assert.equal(
      (await put({ recordID: id, kind: "captions", lang: "de" }, "garbage")).messageKey,
      "upload_text_track_failed",
    );
    const vtt = await Deno.readTextFile(`${dir}/captions/${id}/subtitles_en-US.vtt`);
    assert.match(vtt, /^WEBVTT\n\n1\n00:00:01\.000 --> 00:00:02\.500\nHello/);
    const index = JSON.parse(await Deno.readTextFile(`${dir}/captions/${id}/captions.json`));
    assert.deepEqual(index, [{ kind: "subtitles", label: "English", lang: "en-US", source: "upload" }]);
    const q = sign("getRecordingTextTracks", encodeQuery([["recordID", id]]));
    const listed =
      (await (await h.app.request(`/bigbluebutton/api/getRecordingTextTracks?${q}`)).json()).response;
    assert.deepEqual(listed, {
      returncode: "SUCCESS",
      tracks: [{
        href: `${PUBLIC_URL}/captions/${id}/subtitles_en-US.vtt`,
        kind: "subtitles",
        label: "English",
        lang: "en-US",
        source: "upload",
      }],
    });
    // a re-import of the recording keeps the track
    await uploadPublished(h, made);
    assert.equal((await getRecording(h.kv, id))!.value.textTracks.length, 1);
  });
});
