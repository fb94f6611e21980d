import assert from "node:assert/strict";
import { PUBLIC_URL, setup } from "../../tests/harness.ts";
import {
  postUpload,
  recordThroughBbblb,
  tarOf,
  uploadPublished,
  uploadToken,
  withTempDir,
} from "../../tests/recording_fixtures.ts";
import { authenticateUpload } from "../recordings/upload.ts";
import { removeServer } from "../store/servers.ts";
import { getRecording } from "../store/recordings.ts";

const ID = "1b6a4d2b4a0b8e2d2f9d1c3a5e7f9b1d3c5e7a9b-1715262000456";

Deno.test("an upload signed by the server that made the recording is answered 202 and imported under DIR", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 2, recordingsDir: dir });
    const made = await recordThroughBbblb(h, "lecture-1");
    const { status, json } = await uploadPublished(h, made, { formats: ["presentation", "video"] });
    assert.equal(status, 202);
    assert.equal(json.state, "received");
    const id = made.recording.recordID;
    assert.ok((await Deno.stat(`${dir}/presentation/${id}/metadata.xml`)).isFile);
    assert.ok((await Deno.stat(`${dir}/video/${id}/video-0.m4v`)).isFile);
    const record = (await getRecording(h.kv, id))!.value;
    assert.deepEqual(Object.keys(record.formats).sort(), ["presentation", "video"]);
    assert.equal(record.serverId, made.serverId);
    assert.equal(record.meetingID, "lecture-1");
    // nothing is left in the staging area
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/.staging`)), []);
    // the status endpoint tells the server it was imported
    const token = await uploadToken(h.fakes[made.fakeIndex].secret, {
      iss: `127.0.0.1:${h.fakes[made.fakeIndex].port}`,
      aud: PUBLIC_URL,
    });
    const res = await h.app.request(`/bbblb/v1/recordings/uploads/${json.id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const view = await res.json();
    assert.equal(view.state, "imported");
    assert.deepEqual(view.items.map((i: { state: string }) => i.state), ["imported", "imported"]);
    // another server cannot read it
    const other = await uploadToken(h.fakes[1 - made.fakeIndex].secret, {
      iss: `127.0.0.1:${h.fakes[1 - made.fakeIndex].port}`,
      aud: PUBLIC_URL,
    });
    const hidden = await h.app.request(`/bbblb/v1/recordings/uploads/${json.id}`, {
      headers: { authorization: `Bearer ${other}` },
    });
    assert.equal(hidden.status, 404);
  });
});

Deno.test("an upload with a missing, forged, expired, long-lived or misaddressed token is 401 and writes nothing", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 2, recordingsDir: dir });
    const fake = h.fakes[0];
    const iss = `127.0.0.1:${fake.port}`;
    const archive = await tarOf([{ name: `video/${ID}/metadata.xml`, content: "<recording/>" }]);
    const tokens: [string, string | null][] = [
      ["no token", null],
      ["another server's secret", await uploadToken(h.fakes[1].secret, { iss, aud: PUBLIC_URL })],
      ["the wrong audience", await uploadToken(fake.secret, { iss, aud: "https://elsewhere.example" })],
      ["an unknown issuer", await uploadToken(fake.secret, { iss: "bbb9.example.org", aud: PUBLIC_URL })],
      ["an expired token", await uploadToken(fake.secret, { iss, aud: PUBLIC_URL, expiresIn: -120 })],
      [
        "a token valid for an hour",
        await uploadToken(fake.secret, { iss, aud: PUBLIC_URL, expiresIn: 3600 }),
      ],
      ["HS512", await uploadToken(fake.secret, { iss, aud: PUBLIC_URL, alg: "HS512" })],
    ];
    for (const [what, token] of tokens) {
      const res = token === null
        ? await h.app.request("/bbblb/v1/recordings", { method: "POST", body: archive })
        : await postUpload(h, 0, archive, { token });
      assert.equal(res.status, 401, what);
      assert.equal(res.headers.get("www-authenticate"), "Bearer", what);
      assert.ok((await res.json()).error, what);
    }
    // within the leeway: expired 30 s ago is still fine
    const late = await uploadToken(fake.secret, { iss, aud: PUBLIC_URL, expiresIn: -30 });
    assert.equal((await postUpload(h, 0, archive, { token: late })).status, 202);
    await h.custody!.idle();
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/.staging`)), []);
  });
});

Deno.test("an upload over --max-recording-upload is 413, and one without a Content-Length is 411", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir, maxRecordingUploadBytes: 1024 * 1024 });
    const big = await tarOf([{ name: `video/${ID}/video-0.m4v`, content: new Uint8Array(2 * 1024 * 1024) }]);
    const declared = await postUpload(h, 0, big);
    assert.equal(declared.status, 413);
    // a small archive without a length (chunked) is refused before anything is written
    const small = await tarOf([{ name: `video/${ID}/video-0.m4v`, content: new Uint8Array(1024) }]);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(small);
        c.close();
      },
    });
    const chunked = await postUpload(h, 0, stream);
    assert.equal(chunked.status, 411);
    assert.match((await chunked.json()).error, /Content-Length/);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/.staging`)), []);
    assert.equal(await Deno.stat(`${dir}/video`).then(() => true, () => false), false);
  });
});

Deno.test("an archive bbblb cannot read, or one holding a link or a path out of DIR, is 400 and leaves nothing", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 1, recordingsDir: dir });
    for (
      const body of [
        new TextEncoder().encode("not an archive ".repeat(100)),
        await tarOf([{ name: `video/${ID}/x`, type: "symlink", linkname: "/etc/shadow" }]),
        await tarOf([{ name: `video/${ID}/../../../../tmp/x`, content: "x" }]),
        await tarOf([]),
      ]
    ) {
      const res = await postUpload(h, 0, body);
      assert.equal(res.status, 400);
      assert.match((await res.json()).error, /./);
    }
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/.staging`)), []);
  });
});

Deno.test("only the server that made a recording may upload it; another server's upload fails its import", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 2, recordingsDir: dir });
    const made = await recordThroughBbblb(h, "room-owner");
    const other = 1 - made.fakeIndex;
    const res = await uploadPublished(h, made, { fakeIndex: other });
    assert.equal(res.status, 202);
    assert.equal(await getRecording(h.kv, made.recording.recordID), null);
    assert.equal(
      await Deno.stat(`${dir}/presentation/${made.recording.recordID}`).then(() => true, () => false),
      false,
    );
    const again = await uploadPublished(h, made);
    assert.equal(again.status, 202);
    assert.ok(await getRecording(h.kv, made.recording.recordID));
  });
});

Deno.test("a removed server is accepted within the grace period and refused after it", async () => {
  await withTempDir(async (dir) => {
    await using h = await setup({ servers: 2, recordingsDir: dir });
    const fake = h.fakes[1];
    const token = await uploadToken(fake.secret, { iss: `127.0.0.1:${fake.port}`, aud: PUBLIC_URL });
    await removeServer(h.kv, 2, true);
    const authorization = `Bearer ${token}`;
    assert.deepEqual(
      await authenticateUpload(h.kv, authorization, { audience: PUBLIC_URL, graceMs: 7 * 86400_000 }),
      { serverId: 2 },
    );
    await assert.rejects(
      () =>
        authenticateUpload(h.kv, authorization, { audience: PUBLIC_URL, graceMs: 0, now: Date.now() + 1000 }),
      /iss is not the host of a registered BBB server/,
    );
  });
});
