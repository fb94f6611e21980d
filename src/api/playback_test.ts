import assert from "node:assert/strict";
import { type Harness, PUBLIC_URL, sign, tag } from "../../tests/harness.ts";
import {
  type MadeRecording,
  recordThroughBbblb,
  uploadPublished,
  withPlayback,
} from "../../tests/recording_fixtures.ts";
import { encodeQuery } from "../bbb/query.ts";
import { addTenant, emptyTenant, updateTenant } from "../store/tenants.ts";
import type { PlaybackSettings } from "../recordings/access.ts";

const LAW_SECRET = "law-secret-123456";
const LAW_HOST = "bbb-law.example.org";

/** A harness with central recordings, a stand-in player, and one recording of the default tenant. */
async function withRecording(
  playback: Partial<PlaybackSettings>,
  f: (h: Harness, made: MadeRecording, id: string) => Promise<void>,
): Promise<void> {
  await withPlayback(playback, async (h) => {
    const made = await recordThroughBbblb(h, "lecture-9");
    await uploadPublished(h, made, {
      formats: ["presentation", "video", "podcast"],
      edit: async (tree) => {
        const id = made.recording.recordID;
        await Deno.writeTextFile(`${tree}/video/${id}/index.html`, "<!doctype html><title>video</title>");
        await Deno.writeTextFile(`${tree}/presentation/${id}/.hidden`, "secret");
      },
    });
    await f(h, made, made.recording.recordID);
  });
}

/** Add tenant law with its own host; its front-end's signed API calls. */
async function addLaw(
  h: Harness,
): Promise<(name: string, params: Record<string, string>) => Promise<Response>> {
  await addTenant(h.kv, { ...emptyTenant("law"), secrets: [LAW_SECRET], host: LAW_HOST });
  return async (name, params) =>
    await h.app.request(
      `/bigbluebutton/api/${name}?${sign(name, encodeQuery(Object.entries(params)), LAW_SECRET)}`,
    );
}

/** GET (or another method) a URL on bbblb, as a browser does (the host is in the URL). */
async function fetchApp(
  h: Harness,
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await h.app.request(url.startsWith("http") ? url : `${PUBLIC_URL}${url}`, init);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Every path of the recording's three formats, through every alias. */
function everyPath(id: string): string[] {
  return [
    `/playback/presentation/2.3/${id}`,
    `/presentation/${id}/metadata.xml`,
    `/presentation/${id}/shapes.svg`,
    `/presentation/${id}/video/webcams.webm`,
    `/playback/presentation/${id}/shapes.svg`,
    `/playback/video/${id}/`,
    `/playback/video/${id}/video-0.m4v`,
    `/video/${id}/video-0.m4v`,
    `/playback/podcast/${id}/video-0.m4v`,
    `/podcast/${id}/video-0.m4v`,
  ];
}

/** A recordID of the same shape that is certainly not `id` (its last digit changed). */
const otherId = (id: string) => id.slice(0, -1) + (id.endsWith("0") ? "1" : "0");

const urls = (xml: string) => [...xml.matchAll(/<url>([^<]*)<\/url>/g)].map((m) => m[1]);
const images = (xml: string) => [...xml.matchAll(/<image [^>]*>([^<]*)<\/image>/g)].map((m) => m[1]);

Deno.test("a published recording's files are served on BBB's paths with content types, ETags and ranges", async () => {
  await withRecording({}, async (h, _made, id) => {
    for (const path of everyPath(id)) assert.equal((await fetchApp(h, path)).status, 200, path);
    const player = await fetchApp(h, `/playback/presentation/2.3/${id}`);
    assert.match(player.body, /stand-in player/);
    assert.equal(player.headers.get("content-type"), "text/html; charset=utf-8");
    const script = await fetchApp(h, "/playback/presentation/2.3/static/js/player.js");
    assert.equal(script.status, 200);
    assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal((await fetchApp(h, "/playback/presentation/2.3/static/js/nothing.js")).status, 404);

    const svg = await fetchApp(h, `/presentation/${id}/shapes.svg`);
    assert.equal(svg.headers.get("content-type"), "image/svg+xml");
    assert.equal(svg.headers.get("accept-ranges"), "bytes");
    const etag = svg.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(svg.headers.get("last-modified"));
    assert.equal(
      (await fetchApp(h, `/presentation/${id}/shapes.svg`, { headers: { "if-none-match": etag } }))
        .status,
      304,
    );
    assert.equal(
      (await fetchApp(h, `/presentation/${id}/shapes.svg`, {
        headers: { "if-modified-since": svg.headers.get("last-modified")! },
      })).status,
      304,
    );

    const video = `/presentation/${id}/video/webcams.webm`;
    const whole = await fetchApp(h, video);
    assert.equal(whole.headers.get("content-type"), "video/webm");
    assert.equal(whole.headers.get("content-length"), "1000");
    const part = await h.app.request(`${PUBLIC_URL}${video}`, { headers: { range: "bytes=100-199" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 100-199/1000");
    assert.equal((await part.arrayBuffer()).byteLength, 100);
    const tail = await h.app.request(`${PUBLIC_URL}${video}`, { headers: { range: "bytes=-10" } });
    assert.equal(tail.headers.get("content-range"), "bytes 990-999/1000");
    assert.equal((await tail.arrayBuffer()).byteLength, 10);
    const past = await fetchApp(h, video, { headers: { range: "bytes=5000-" } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get("content-range"), "bytes */1000");
    const stale = await fetchApp(h, video, { headers: { range: "bytes=0-9", "if-range": '"old"' } });
    assert.equal(stale.status, 200, "a range of an older version must send the whole file");
    const head = await h.app.request(`${PUBLIC_URL}${video}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "1000");
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    assert.equal((await fetchApp(h, `/video/${id}/video-0.m4v`)).headers.get("content-type"), "video/mp4");
    assert.match((await fetchApp(h, `/playback/video/${id}/`)).body, /<title>video<\/title>/);
    const bare = await fetchApp(h, `/playback/video/${id}?x=1`);
    assert.equal(bare.status, 302, "a folder without its slash");
    assert.equal(bare.headers.get("location"), `/playback/video/${id}/?x=1`);
  });
});

Deno.test("no listings, no hidden files, no way out of the recording's folder, no formats it does not have", async () => {
  await withRecording({}, async (h, _made, id) => {
    for (
      const path of [
        `/presentation/${id}/`,
        `/presentation/${id}/video/`,
        `/presentation/${id}/video`,
        `/presentation/${id}/.hidden`,
        `/presentation/${id}/%2e%2e/%2e%2e/etc/passwd`,
        `/presentation/${id}/..%2f..%2fvideo/${id}/video-0.m4v`,
        `/presentation/${id}/video%2fwebcams.webm`,
        `/notes/${id}/video-0.m4v`,
        `/captions/${id}/nothing.vtt`,
        `/presentation/`,
        `/presentation/${otherId(id)}/shapes.svg`,
        `/playback/presentation/2.3/`,
        `/playback/presentation/2.3/${id}/x`,
      ]
    ) {
      const res = await fetchApp(h, path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.body, /webcams|secret|root:/, path);
    }
  });
});

Deno.test("links of the 2.0 player are redirected to the 2.3 player, keeping the rest of the query", async () => {
  await withRecording({}, async (h, _made, id) => {
    const res = await fetchApp(h, `/playback/presentation/2.0/playback.html?meetingId=${id}&t=1m5s`);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), `/playback/presentation/2.3/${id}?t=1m5s`);
    for (
      const bad of ["https://evil.example/", otherId(id), "../../x", ""]
    ) {
      const other = await fetchApp(h, `/playback/presentation/2.0/playback.html?meetingId=${bad}`);
      assert.equal(other.status, 404, bad);
      assert.equal(other.headers.get("location"), null);
    }
  });
});

Deno.test("unpublished and deleted recordings answer 404 on every path of every format, and come back when published", async () => {
  await withRecording({}, async (h, _made, id) => {
    assert.match(await h.text("publishRecordings", { recordID: id, publish: "false" }), /SUCCESS/);
    for (const path of everyPath(id)) {
      assert.equal((await fetchApp(h, path)).status, 404, `unpublished ${path}`);
    }
    assert.equal(
      (await fetchApp(h, `/playback/presentation/2.0/playback.html?meetingId=${id}`)).status,
      404,
    );
    assert.match(await h.text("publishRecordings", { recordID: id, publish: "true" }), /SUCCESS/);
    for (const path of everyPath(id)) {
      assert.equal((await fetchApp(h, path)).status, 200, `published ${path}`);
    }
    assert.match(await h.text("deleteRecordings", { recordID: id }), /SUCCESS/);
    for (const path of everyPath(id)) assert.equal((await fetchApp(h, path)).status, 404, `deleted ${path}`);
  });
});

Deno.test("a tenant's recording answers on its tenant's host only", async () => {
  await withPlayback({}, async (h) => {
    const lawCall = await addLaw(h);
    await addTenant(h.kv, {
      ...emptyTenant("med"),
      secrets: ["med-secret-123456"],
      host: "bbb-med.example.org",
    });
    const law = await recordThroughBbblb(h, "room", {}, lawCall);
    await uploadPublished(h, law);
    const id = law.recording.recordID;
    const dflt = await recordThroughBbblb(h, "room");
    await uploadPublished(h, dflt);
    const path = `/presentation/${id}/shapes.svg`;
    assert.equal((await fetchApp(h, `http://${LAW_HOST}${path}`)).status, 200);
    assert.equal(
      (await fetchApp(h, `http://${LAW_HOST}:8443${path}`)).status,
      200,
      "the port does not count",
    );
    assert.equal((await fetchApp(h, `${PUBLIC_URL}${path}`)).status, 404, "on the shared host");
    assert.equal((await fetchApp(h, `http://bbb-med.example.org${path}`)).status, 404, "on another tenant's");
    const other = `/presentation/${dflt.recording.recordID}/shapes.svg`;
    assert.equal((await fetchApp(h, `${PUBLIC_URL}${other}`)).status, 200);
    assert.equal(
      (await fetchApp(h, `http://${LAW_HOST}${other}`)).status,
      404,
      "the default's on law's host",
    );
  });
});

/** The cookies of a grant's answer, as `name=value` for a Cookie header, and their paths. */
function cookiesOf(headers: Headers): { header: string; paths: string[]; raw: string[] } {
  const raw = headers.getSetCookie();
  return {
    header: raw.length ? raw[0].split(";")[0] : "",
    paths: raw.map((c) => /Path=([^;]+)/.exec(c)![1]),
    raw,
  };
}

Deno.test("protected recordings: getRecordings links carry a grant that a browser trades for a cookie scoped to the recording", async () => {
  let now = Date.parse("2026-12-05T10:00:00Z");
  await withRecording({ protectedByDefault: true, linkMinutes: 60, now: () => now }, async (h, _made, id) => {
    const list = await h.text("getRecordings", { meetingID: "lecture-9" });
    const links = urls(list);
    assert.equal(links.length, 3);
    for (const link of links) assert.match(link, /[?&]bbblb_grant=[0-9a-z]+\.[A-Za-z0-9_-]{32}$/, link);
    // without the grant or the cookie: nothing, on every path of every format
    for (const path of everyPath(id)) {
      const res = await fetchApp(h, path);
      assert.equal(res.status, 403, path);
      assert.doesNotMatch(res.body, /stand-in|svg/);
    }
    // the player page: the grant becomes a cookie and leaves the address bar
    const playerLink = links.find((l) => l.includes("/playback/presentation/2.3/"))!;
    const opened = await fetchApp(h, playerLink);
    assert.equal(opened.status, 303);
    assert.equal(opened.headers.get("location"), `/playback/presentation/2.3/${id}`);
    const { header, paths, raw } = cookiesOf(opened.headers);
    assert.ok(
      raw.every((c) => /HttpOnly/.test(c) && /SameSite=Lax/.test(c) && /Max-Age=21600/.test(c)),
      raw[0],
    );
    assert.ok(raw.every((c) => c.split(";")[0] === header), "one value for every path");
    for (const p of [`/playback/presentation/2.3/${id}`, `/presentation/${id}`, `/playback/video/${id}`]) {
      assert.ok(paths.includes(p), `${p} in ${paths}`);
    }
    assert.ok(paths.every((p) => p.includes(id)), "a cookie for more than this recording");
    // with the cookie: every path of every format (the browser sends it where its path matches)
    for (const path of everyPath(id)) {
      assert.equal((await fetchApp(h, path, { headers: { cookie: header } })).status, 200, path);
    }
    // the grant on a file is served directly (preview images in the front-end's page)
    const image = images(list)[0];
    assert.ok(image.includes("bbblb_grant="), image);
    assert.equal((await fetchApp(h, image)).status, 404, "the fake's thumbnails are not in the upload");
    const svgWithGrant = `/presentation/${id}/shapes.svg?${new URL(playerLink).search.slice(1)}`;
    assert.equal((await fetchApp(h, svgWithGrant)).status, 200);
    // a tampered grant or cookie opens nothing
    const tampered = playerLink.replace(/.$/, (c) => (c === "A" ? "B" : "A"));
    assert.equal((await fetchApp(h, tampered)).status, 403);
    assert.equal(
      (await fetchApp(h, `/presentation/${id}/shapes.svg`, {
        headers: { cookie: header.replace(/.$/, "x") },
      }))
        .status,
      403,
    );
    // not single-use: integrations prefetch links
    assert.equal((await fetchApp(h, playerLink)).status, 303);
    // the grant expires after --recording-link-minutes; the cookie it set lasts
    now += 61 * 60_000;
    assert.equal((await fetchApp(h, playerLink)).status, 403, "expired grant");
    assert.equal(
      (await fetchApp(h, `/presentation/${id}/shapes.svg`, { headers: { cookie: header } })).status,
      200,
    );
    now += 6 * 3600_000;
    assert.equal(
      (await fetchApp(h, `/presentation/${id}/shapes.svg`, { headers: { cookie: header } })).status,
      403,
      "expired cookie",
    );
  });
});

Deno.test("a protected recording's grant or cookie opens no other recording, and unpublished stays 404 with both", async () => {
  await withRecording({ protectedByDefault: true }, async (h, _made, id) => {
    const other = await recordThroughBbblb(h, "lecture-10");
    await uploadPublished(h, other, { formats: ["presentation", "video"] });
    const otherId = other.recording.recordID;
    const link = urls(await h.text("getRecordings", { meetingID: "lecture-9" }))[0];
    const grant = new URL(link).search;
    const { header } = cookiesOf((await fetchApp(h, link)).headers);
    assert.ok(header.startsWith("bbblb_playback="));
    for (const path of everyPath(otherId).filter((p) => !p.includes("podcast"))) {
      assert.equal(
        (await fetchApp(h, path, { headers: { cookie: header } })).status,
        403,
        `cookie on ${path}`,
      );
      assert.equal((await fetchApp(h, `${path}${grant}`)).status, 403, `grant on ${path}`);
    }
    // unpublished: 404 even with a valid grant and cookie
    assert.match(await h.text("publishRecordings", { recordID: id, publish: "false" }), /SUCCESS/);
    for (const path of everyPath(id)) {
      assert.equal((await fetchApp(h, path, { headers: { cookie: header } })).status, 404, path);
      assert.equal((await fetchApp(h, `${path}${grant}`)).status, 404, path);
    }
  });
});

Deno.test("protection per tenant: a tenant's grant works on its host only, and switching protection on covers existing recordings", async () => {
  await withPlayback({}, async (h) => {
    const lawCall = await addLaw(h);
    const law = await recordThroughBbblb(h, "room", {}, lawCall);
    await uploadPublished(h, law);
    const id = law.recording.recordID;
    const file = `http://${LAW_HOST}/presentation/${id}/shapes.svg`;
    assert.equal((await fetchApp(h, file)).status, 200, "not protected yet");
    assert.doesNotMatch(await (await lawCall("getRecordings", {})).text(), /bbblb_grant/);

    await updateTenant(h.kv, "law", (t) => ({ ...t, protectedRecordings: true }));
    assert.equal((await fetchApp(h, file)).status, 403, "an existing recording is protected at once");
    const link = urls(await (await lawCall("getRecordings", {})).text())[0];
    assert.ok(link.startsWith(`http://${LAW_HOST}/playback/presentation/2.3/${id}?bbblb_grant=`), link);
    // the same grant on the shared host (or another tenant's): not this recording's host
    assert.equal((await fetchApp(h, link.replace(`http://${LAW_HOST}`, PUBLIC_URL))).status, 404);
    const grant = new URL(link).search;
    assert.equal((await fetchApp(h, `${PUBLIC_URL}/presentation/${id}/shapes.svg${grant}`)).status, 404);
    // the default tenant is not protected
    const dflt = await recordThroughBbblb(h, "room");
    await uploadPublished(h, dflt);
    assert.equal((await fetchApp(h, `/presentation/${dflt.recording.recordID}/shapes.svg`)).status, 200);
    assert.equal(tag(await h.text("getRecordings"), "returncode"), "SUCCESS");
    assert.doesNotMatch(await h.text("getRecordings"), /bbblb_grant/);
    // a tenant can be left open while every other one is protected
    await updateTenant(h.kv, "law", (t) => ({ ...t, protectedRecordings: false }));
    assert.equal((await fetchApp(h, file)).status, 200);
  });
});

Deno.test("the auth_request endpoint lets nginx serve a file only when bbblb would serve it as it is", async () => {
  await withRecording({ protectedByDefault: true }, async (h, _made, id) => {
    const auth = async (uri: string, headers: Record<string, string> = {}) =>
      (await h.app.request(`${PUBLIC_URL}/bbblb/v1/playback/auth`, {
        headers: { "x-original-uri": uri, ...headers },
      })).status;
    const link = urls(await h.text("getRecordings", { meetingID: "lecture-9" }))[0];
    const { header } = cookiesOf((await fetchApp(h, link)).headers);
    const file = `/presentation/${id}/video/webcams.webm`;
    assert.equal(await auth(file), 401, "no cookie");
    assert.equal(await auth(file, { cookie: header }), 204);
    assert.equal(await auth(`/playback/video/${id}/video-0.m4v`, { cookie: header }), 204);
    assert.equal(
      await auth(`${file}${new URL(link).search}`),
      401,
      "a grant is bbblb's to trade for a cookie",
    );
    assert.equal(
      await auth(`/playback/presentation/2.3/${id}`, { cookie: header }),
      401,
      "the player is bbblb's",
    );
    assert.equal(await auth(`/presentation/${id}/../../etc/passwd`, { cookie: header }), 401);
    assert.equal(await auth(file, { cookie: header, host: "bbb-other.example.org" }), 401);
    assert.match(await h.text("publishRecordings", { recordID: id, publish: "false" }), /SUCCESS/);
    assert.equal(await auth(file, { cookie: header }), 401);
  });
});

Deno.test("text tracks of a protected recording are listed with a grant and served with it or the cookie, not without", async () => {
  await withRecording({ protectedByDefault: true }, async (h, _made, id) => {
    const form = new FormData();
    form.append("file", new File(["WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n"], "t.vtt"));
    const put = sign(
      "putRecordingTextTrack",
      encodeQuery([["recordID", id], ["kind", "captions"], ["lang", "de"]]),
    );
    const answer = await h.app.request(`/bigbluebutton/api/putRecordingTextTrack?${put}`, {
      method: "POST",
      body: form,
    });
    assert.equal((await answer.json()).response.returncode, "SUCCESS");
    const q = sign("getRecordingTextTracks", encodeQuery([["recordID", id]]));
    const href: string =
      (await (await h.app.request(`/bigbluebutton/api/getRecordingTextTracks?${q}`)).json())
        .response.tracks[0].href;
    assert.match(href, new RegExp(`^${PUBLIC_URL}/captions/${id}/captions_de\\.vtt\\?bbblb_grant=`));
    const withGrant = await fetchApp(h, href);
    assert.equal(withGrant.status, 200);
    assert.equal(withGrant.headers.get("content-type"), "text/vtt; charset=utf-8");
    assert.match(withGrant.body, /Hello/);
    const bare = href.split("?")[0];
    assert.equal((await fetchApp(h, bare)).status, 403);
    const link = urls(await h.text("getRecordings", { meetingID: "lecture-9" }))[0];
    const { header } = cookiesOf((await fetchApp(h, link)).headers);
    assert.equal((await fetchApp(h, bare, { headers: { cookie: header } })).status, 200);
  });
});
