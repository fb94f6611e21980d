/**
 * Tests of the fake BigBlueButton server (tests/fake_bbb.ts) over real sockets: checksum handling as in
 * bbb-web, the meeting calls and their XML documents, the recording calls, insertDocument,
 * sendChatMessage, the webhooks module, and the failure modes used by bbblb's tests.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { XMLParser } from "fast-xml-parser";
import { FakeBbb } from "./fake_bbb.ts";

/** Secret of the checksum test vectors in bbb-api.md §1.6. */
const VECTOR_SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b";
const VECTOR_QUERY = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444";
const VECTORS: Record<string, string> = {
  sha1: "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17",
  sha256: "da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e",
  sha384: "891ac633df39d0a1b4f8d597f3e190833216c4b29c4fb51ea3ca72757eeb958d6e7b49a845cf29f5c6019c7d29d029d1",
  sha512:
    "de73ad61d11a5c801b68d4bd6ec5248546085cefb0b25c85f3c46249ea93a3a4b120f92c0a8a58d7512cb77821884951a3b" +
    "01245f3435dbbef49fff3cc3988b4",
};

const parser = new XMLParser({
  parseTagValue: false,
  isArray: (name, jpath) =>
    ["meeting", "attendee", "error", "breakout"].includes(name) ||
    ["response.recordings.recording", "response.hooks.hook"].includes(String(jpath)),
});

// deno-lint-ignore no-explicit-any
type Doc = any;

interface ApiResult {
  status: number;
  headers: Headers;
  text: string;
  doc: Doc;
}

/** Checksum of `call + query + secret`. */
function checksum(call: string, query: string, secret: string, algorithm = "sha1"): string {
  return createHash(algorithm).update(call + query + secret).digest("hex");
}

/** URL of `call` with `query` signed with the fake's secret and the checksum appended. */
function signedUrl(fake: FakeBbb, call: string, query = "", algorithm = "sha1"): string {
  const sum = checksum(call, query, fake.secret, algorithm);
  return `${fake.apiUrl}${call}?${query}${query ? "&" : ""}checksum=${sum}`;
}

/** Fetches a URL without following redirects and parses the body as XML if it is XML. */
async function get(url: string, init: RequestInit = {}): Promise<ApiResult> {
  const res = await fetch(url, { redirect: "manual", ...init });
  const text = await res.text();
  const isXml = res.headers.get("content-type")?.startsWith("text/xml") ?? false;
  return {
    status: res.status,
    headers: res.headers,
    text,
    doc: isXml ? parser.parse(text).response : undefined,
  };
}

/** Signed GET of an API call. */
function api(fake: FakeBbb, call: string, query = "", algorithm = "sha1"): Promise<ApiResult> {
  return get(signedUrl(fake, call, query, algorithm));
}

/** Names of the direct children of the root element, in document order. */
function childNames(xml: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (const m of xml.matchAll(/<(\/?)([A-Za-z_][\w.-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (closing) {
      depth--;
      continue;
    }
    if (depth === 1) names.push(name);
    if (!selfClosing) depth++;
  }
  return names;
}

/** Runs `fn` with a fresh fake that is always closed afterwards. */
async function withFake(
  fn: (fake: FakeBbb) => Promise<void>,
  opts: { secret?: string; keepEnded?: boolean } = {},
): Promise<void> {
  const fake = await FakeBbb.start({ port: 0, ...opts });
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

Deno.test("version document on /bigbluebutton/api and /bigbluebutton/api/ without checksum", async () => {
  await withFake(async (fake) => {
    assert.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+\/bigbluebutton\/$/);
    assert.equal(fake.apiUrl, fake.url + "api/");
    assert.equal(fake.url, `http://127.0.0.1:${fake.port}/bigbluebutton/`);
    for (const url of [fake.apiUrl.slice(0, -1), fake.apiUrl]) {
      const r = await get(url);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("content-type"), "text/xml;charset=utf-8");
      assert.ok(!r.text.startsWith("<?xml"));
      assert.deepEqual(childNames(r.text), ["returncode", "version", "apiVersion", "bbbVersion"]);
      assert.equal(r.doc.returncode, "SUCCESS");
      assert.equal(r.doc.version, "2.0");
    }
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[0].call, "");
  });
});

Deno.test("checksum: reference vectors for sha1/256/384/512 succeed", async () => {
  await withFake(async (fake) => {
    for (const [algorithm, sum] of Object.entries(VECTORS)) {
      assert.equal(checksum("create", VECTOR_QUERY, VECTOR_SECRET, algorithm), sum);
      const r = await get(`${fake.apiUrl}create?${VECTOR_QUERY}&checksum=${sum}`);
      assert.equal(r.doc.returncode, "SUCCESS", `${algorithm}: ${r.text}`);
      assert.equal(fake.requests.at(-1)!.checksumOk, true);
      assert.equal(fake.requests.at(-1)!.rawQuery, `${VECTOR_QUERY}&checksum=${sum}`);
    }
    const meeting = fake.meetings.get("abc123")!;
    assert.equal(meeting.meetingName, "Test Meeting");
    assert.equal(meeting.attendeePW, "111222");
    assert.equal(meeting.moderatorPW, "333444");
    const r = await get(`${fake.apiUrl}getMeetings?checksum=2027baa7771026e9e93392f55031535d1444c41f`);
    assert.equal(r.doc.returncode, "SUCCESS");
    assert.equal(r.doc.meetings.meeting.length, 1);
  }, { secret: VECTOR_SECRET });
});

Deno.test("checksum: uppercase hex and any checksum position are accepted", async () => {
  await withFake(async (fake) => {
    const q = "meetingID=m-1";
    const sum = checksum("isMeetingRunning", q, fake.secret, "sha256");
    const urls = [
      `${fake.apiUrl}isMeetingRunning?${q}&checksum=${sum.toUpperCase()}`,
      `${fake.apiUrl}isMeetingRunning?checksum=${sum}&${q}`,
      `${fake.apiUrl}isMeetingRunning?${q}&checksum=${sum}`,
    ];
    const q3 = "meetingID=m-1&fullName=A+B&role=viewer";
    const sum3 = checksum("getMeetingInfo", q3, fake.secret);
    urls.push(`${fake.apiUrl}getMeetingInfo?meetingID=m-1&checksum=${sum3}&fullName=A+B&role=viewer`);
    for (const url of urls) {
      const r = await get(url);
      assert.notEqual(r.doc.messageKey, "checksumError", url);
      assert.ok(fake.requests.at(-1)!.checksumOk);
    }
  });
});

Deno.test("checksum: wrong, missing, empty, odd or unsupported length give checksumError", async () => {
  await withFake(async (fake) => {
    const good = checksum("getMeetings", "", fake.secret);
    const cases: [string, string][] = [
      ["", "You must provide the checksum"],
      ["checksum=", "You must provide the checksum"],
      [`checksum=${"0".repeat(40)}`, "Checksums do not match"],
      [`checksum=${good.slice(1)}`, "Checksums do not match"],
      [`checksum=${good}0`, "Checksums do not match"],
      [`checksum=${good}${good.slice(0, 10)}`, "Checksums do not match"],
    ];
    for (const [query, message] of cases) {
      const r = await get(`${fake.apiUrl}getMeetings?${query}`);
      assert.equal(r.status, 200);
      assert.equal(r.doc.returncode, "FAILED", query);
      assert.equal(r.doc.messageKey, "checksumError", query);
      assert.equal(r.doc.message, message, query);
      assert.equal(fake.requests.at(-1)!.checksumOk, false);
    }
    // Signed for another call, or with another secret.
    assert.equal((await get(signedUrl(fake, "getMeetings", ""))).doc.returncode, "SUCCESS");
    const other = checksum("getMeetingInfo", "", fake.secret);
    assert.equal((await get(`${fake.apiUrl}getMeetings?checksum=${other}`)).doc.messageKey, "checksumError");
    const url = signedUrl(fake, "getMeetings");
    fake.secret = "changed";
    assert.equal((await get(url)).doc.messageKey, "checksumError");
  });
});

Deno.test("checksum: '+' and '%20' are verified as sent", async () => {
  await withFake(async (fake) => {
    const plus = "meetingID=m-1&name=Big+Room";
    const pct = "meetingID=m-2&name=Big%20Room";
    assert.equal((await api(fake, "create", plus)).doc.returncode, "SUCCESS");
    assert.equal((await api(fake, "create", pct)).doc.returncode, "SUCCESS");
    assert.equal(fake.meetings.get("m-1")!.meetingName, "Big Room");
    assert.equal(fake.meetings.get("m-2")!.meetingName, "Big Room");
    // Signed with %20 but sent with +: rejected.
    const sum = checksum("create", "meetingID=m-3&name=Big%20Room", fake.secret);
    const r = await get(`${fake.apiUrl}create?meetingID=m-3&name=Big+Room&checksum=${sum}`);
    assert.equal(r.doc.messageKey, "checksumError");
    assert.ok(!fake.meetings.has("m-3"));
  });
});

/** Sends a GET with exactly these request-target bytes over a raw socket; returns the response body. */
async function rawGet(port: number, target: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
    );
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) chunks.push(buf.slice(0, n));
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    return text.slice(text.indexOf("\r\n\r\n") + 4);
  } finally {
    conn.close();
  }
}

Deno.test("checksum: the raw query bytes are verified as sent (no re-encoding)", async () => {
  await withFake(async (fake) => {
    // fetch() would normalise ' and other characters; a raw socket sends them untouched.
    const query = "meetingID=raw-1&name=It's+a|b%7eC*&meta_Note=%e2%9c%93";
    const sum = checksum("create", query, fake.secret);
    const body = await rawGet(fake.port, `/bigbluebutton/api/create?${query}&checksum=${sum}`);
    assert.equal(parser.parse(body).response.returncode, "SUCCESS", body);
    assert.equal(fake.requests[0].rawQuery, `${query}&checksum=${sum}`);
    assert.equal(fake.meetings.get("raw-1")!.meetingName, "It's a|b~C*");
    assert.deepEqual(fake.meetings.get("raw-1")!.metadata, { note: "\u2713" });
    // The same parameters encoded differently do not match that checksum.
    const other = await rawGet(
      fake.port,
      `/bigbluebutton/api/create?${query.replace("%7e", "%7E")}&checksum=${sum}`,
    );
    assert.equal(parser.parse(other).response.messageKey, "checksumError");
  });
});

Deno.test("checksum: an empty secret disables verification", async () => {
  await withFake(async (fake) => {
    const r = await get(`${fake.apiUrl}getMeetings`);
    assert.equal(r.doc.returncode, "SUCCESS");
    assert.equal(fake.requests[0].checksumOk, true);
  }, { secret: "" });
});

Deno.test("create: document, generated values, metadata, duplicateWarning and idNotUnique", async () => {
  await withFake(async (fake) => {
    const q =
      "name=Room+101&meetingID=room-101&record=true&meta_bbb-origin-serverName=Greenlight&meta_x_y=no";
    const r = await api(fake, "create", q);
    assert.equal(r.status, 200);
    assert.deepEqual(childNames(r.text), [
      "returncode",
      "meetingID",
      "internalMeetingID",
      "parentMeetingID",
      "attendeePW",
      "moderatorPW",
      "createTime",
      "voiceBridge",
      "dialNumber",
      "createDate",
      "hasUserJoined",
      "duration",
      "hasBeenForciblyEnded",
      "messageKey",
      "message",
    ]);
    const d = r.doc;
    assert.equal(d.returncode, "SUCCESS");
    assert.equal(d.meetingID, "room-101");
    assert.equal(d.internalMeetingID, `164d3d30e9aee9e1ec6ef984613677b4b5835604-${d.createTime}`);
    assert.match(d.createTime, /^\d{13}$/);
    assert.equal(d.parentMeetingID, "bbb-none");
    assert.match(d.attendeePW, /^[A-Za-z0-9]{8}$/);
    assert.match(d.moderatorPW, /^[A-Za-z0-9]{8}$/);
    assert.match(d.voiceBridge, /^\d{5}$/);
    assert.equal(d.dialNumber, "613-555-1234");
    assert.match(d.createDate, /^[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d UTC \d{4}$/);
    assert.equal(d.hasUserJoined, "false");
    assert.equal(d.messageKey, "");
    assert.equal(d.message, "");
    const m = fake.meetings.get("room-101")!;
    assert.deepEqual(m.metadata, { "bbb-origin-servername": "Greenlight" });
    assert.equal(m.createParams.get("record"), "true");
    assert.equal(m.createTime, Number(d.createTime));

    // Repeat without passwords, and with the same passwords: duplicateWarning, same document.
    const pw = `&attendeePW=${d.attendeePW}&moderatorPW=${d.moderatorPW}`;
    for (const query of ["name=Other&meetingID=room-101", `name=Room+101&meetingID=room-101${pw}`]) {
      const again = (await api(fake, "create", query)).doc;
      assert.equal(again.returncode, "SUCCESS");
      assert.equal(again.messageKey, "duplicateWarning");
      assert.equal(
        again.message,
        "This conference was already in existence and may currently be in progress.",
      );
      assert.equal(again.internalMeetingID, d.internalMeetingID);
      assert.equal(again.createTime, d.createTime);
    }
    assert.equal(fake.meetings.get("room-101")!.meetingName, "Room 101");

    const clash =
      (await api(fake, "create", "name=Room&meetingID=room-101&attendeePW=a1&moderatorPW=m1")).doc;
    assert.equal(clash.returncode, "FAILED");
    assert.equal(clash.messageKey, "idNotUnique");
  });
});

Deno.test("create: validation errors and nonUniqueVoiceBridge errors envelope", async () => {
  await withFake(async (fake) => {
    const cases: [string, string][] = [
      ["name=Room", "missingParamMeetingID"],
      ["name=Room&meetingID=", "missingParamMeetingID"],
      ["name=Room&meetingID=x", "validationError"],
      ["name=Room&meetingID=a%2Cb", "validationError"],
      ["name=Room&meetingID=%20abc", "validationError"],
      ["meetingID=abc", "validationError"],
      ["meetingID=abc&name=Room&voiceBridge=12a", "validationError"],
      ["meetingID=abc&name=Room&isBreakout=true", "parentMeetingIdMissing"],
    ];
    for (const [query, key] of cases) {
      const d = (await api(fake, "create", query)).doc;
      assert.equal(d.returncode, "FAILED", query);
      assert.equal(d.messageKey, key, query);
    }
    assert.equal(fake.meetings.size, 0);

    assert.equal(
      (await api(fake, "create", "meetingID=one&name=One&voiceBridge=71234")).doc.returncode,
      "SUCCESS",
    );
    assert.equal(fake.meetings.get("one")!.voiceBridge, "71234");
    const r = await api(fake, "create", "meetingID=two&name=Two&voiceBridge=71234");
    assert.equal(r.doc.returncode, "FAILED");
    assert.equal(r.doc.messageKey, undefined);
    assert.deepEqual(r.doc.errors.error, [
      { key: "nonUniqueVoiceBridge", message: "The selected voice bridge is already in use." },
    ]);
    assert.ok(!fake.meetings.has("two"));
  });
});

Deno.test("create: POST with an XML body is recorded; other body types are rejected", async () => {
  await withFake(async (fake) => {
    const body = '<modules><module name="presentation"><document url="https://x/a.pdf"/></module></modules>';
    const url = signedUrl(fake, "create", "meetingID=slides&name=Slides");
    const r = await get(url, { method: "POST", body, headers: { "content-type": "application/xml" } });
    assert.equal(r.doc.returncode, "SUCCESS");
    const rec = fake.requests.at(-1)!;
    assert.equal(rec.method, "POST");
    assert.equal(rec.body, body);
    assert.equal(rec.contentType, "application/xml");
    const bad = await get(url, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    assert.equal(bad.doc.messageKey, "unsupportedContentType");
  });
});

Deno.test("join: 302 to the client, redirect=false XML, createTime and password checks", async () => {
  await withFake(async (fake) => {
    const c = (await api(fake, "create", "meetingID=j-1&name=Join&attendeePW=ap&moderatorPW=mp")).doc;
    assert.equal((await api(fake, "isMeetingRunning", "meetingID=j-1")).doc.running, "false");

    const r = await api(
      fake,
      "join",
      `meetingID=j-1&fullName=Alice&role=MODERATOR&createTime=${c.createTime}`,
    );
    assert.equal(r.status, 302);
    const location = r.headers.get("location")!;
    assert.match(
      location,
      new RegExp(`^http://127\\.0\\.0\\.1:${fake.port}/html5client/join\\?sessionToken=\\w+$`),
    );
    const client = await fetch(location);
    assert.equal(client.status, 200);
    assert.equal(await client.text(), "joined");
    // A client following the redirect ends on the page as well.
    const followed = await fetch(signedUrl(fake, "join", "meetingID=j-1&fullName=Carol&password=ap"));
    assert.equal(followed.status, 200);
    assert.equal(await followed.text(), "joined");

    const x = await api(fake, "join", "meetingID=j-1&fullName=Bob&password=ap&redirect=false&userID=ext-7");
    assert.equal(x.status, 200);
    assert.deepEqual(childNames(x.text), [
      "returncode",
      "messageKey",
      "message",
      "meeting_id",
      "user_id",
      "auth_token",
      "session_token",
      "guestStatus",
      "url",
    ]);
    assert.equal(x.doc.returncode, "SUCCESS");
    assert.equal(x.doc.messageKey, "successfullyJoined");
    assert.equal(x.doc.meeting_id, c.internalMeetingID);
    assert.match(x.doc.user_id, /^w_[a-z0-9]{12}$/);
    assert.equal(x.doc.guestStatus, "ALLOW");
    assert.ok(x.doc.url.includes("/html5client/join?sessionToken="));

    const m = fake.meetings.get("j-1")!;
    assert.deepEqual(m.participants.map((p) => [p.fullName, p.role]), [
      ["Alice", "MODERATOR"],
      ["Carol", "VIEWER"],
      ["Bob", "VIEWER"],
    ]);
    assert.equal(m.participants[2].userID, "ext-7");
    assert.equal((await api(fake, "isMeetingRunning", "meetingID=j-1")).doc.running, "true");

    const failures: [string, string][] = [
      [
        `meetingID=j-1&fullName=A&role=viewer&createTime=${Number(c.createTime) + 1}`,
        "mismatchCreateTimeParam",
      ],
      ["meetingID=j-1&fullName=A&password=nope&redirect=false", "Params required"],
      ["meetingID=j-1&fullName=A&redirect=false", "Params required"],
      ["meetingID=j-1&role=viewer", "missingParamFullName"],
      ["fullName=A&role=viewer", "missingParamMeetingID"],
      ["meetingID=nope&fullName=A&role=viewer", "invalidMeetingIdentifier"],
    ];
    for (const [query, key] of failures) {
      const f = await api(fake, "join", query);
      assert.equal(f.doc.returncode, "FAILED", query);
      assert.equal(f.doc.messageKey, key, query);
    }
    assert.equal(m.participants.length, 3);
  });
});

Deno.test("end: removes the meeting; getMeetingInfo and end then answer notFound", async () => {
  await withFake(async (fake) => {
    await api(fake, "create", "meetingID=e-1&name=End");
    const r = await api(fake, "end", "meetingID=e-1");
    assert.deepEqual(childNames(r.text), ["returncode", "messageKey", "message"]);
    assert.equal(r.doc.returncode, "SUCCESS");
    assert.equal(r.doc.messageKey, "sentEndMeetingRequest");
    assert.ok(!fake.meetings.has("e-1"));
    for (const call of ["getMeetingInfo", "end"]) {
      const d = (await api(fake, call, "meetingID=e-1")).doc;
      assert.equal(d.returncode, "FAILED");
      assert.equal(d.messageKey, "notFound");
      assert.equal(d.message, "A meeting with that ID does not exist");
    }
    assert.equal((await api(fake, "isMeetingRunning", "meetingID=e-1")).doc.running, "false");
    assert.equal((await api(fake, "isMeetingRunning", "")).doc.messageKey, "missingParamMeetingID");
  });
});

Deno.test("end with keepEnded: meeting stays listed as forcibly ended; a new create starts afresh", async () => {
  await withFake(async (fake) => {
    const c = (await api(fake, "create", "meetingID=k-1&name=Keep&voiceBridge=70001")).doc;
    fake.addParticipant("k-1", { role: "MODERATOR" });
    assert.equal((await api(fake, "end", "meetingID=k-1")).doc.returncode, "SUCCESS");
    const list = (await api(fake, "getMeetings")).doc.meetings.meeting;
    assert.equal(list.length, 1);
    assert.equal(list[0].running, "false");
    assert.equal(list[0].hasBeenForciblyEnded, "true");
    assert.notEqual(list[0].endTime, "0");
    const info = (await api(fake, "getMeetingInfo", "meetingID=k-1")).doc;
    assert.equal(info.hasBeenForciblyEnded, "true");
    assert.equal((await api(fake, "isMeetingRunning", "meetingID=k-1")).doc.running, "false");
    const j = (await api(fake, "join", "meetingID=k-1&fullName=A&role=viewer")).doc;
    assert.equal(j.messageKey, "meetingForciblyEnded");
    await new Promise((resolve) => setTimeout(resolve, 2));
    const again = (await api(fake, "create", "meetingID=k-1&name=Keep&voiceBridge=70001")).doc;
    assert.equal(again.returncode, "SUCCESS");
    assert.equal(again.messageKey, "");
    assert.notEqual(again.createTime, c.createTime);
    assert.equal(fake.meetings.get("k-1")!.ended, false);
  }, { keepEnded: true });
});

Deno.test("getMeetings and getMeetingInfo: documents, counts, breakouts", async () => {
  await withFake(async (fake) => {
    const empty = await api(fake, "getMeetings");
    assert.deepEqual(childNames(empty.text), ["returncode", "meetings", "messageKey", "message"]);
    assert.ok(empty.text.includes("<meetings/>"));
    assert.equal(empty.doc.messageKey, "noMeetings");
    assert.equal(empty.doc.message, "no meetings were found on this server");

    await api(fake, "create", "meetingID=room-101&name=Room+101&record=true&maxParticipants=25&meta_a=1%262");
    fake.addParticipant("room-101", { fullName: "Alice", role: "MODERATOR", video: true });
    fake.addParticipant("room-101", { fullName: "Bob" });
    await api(fake, "join", "meetingID=room-101&fullName=Eve&role=viewer&userdata-bbb_x=y&redirect=false");
    const parent = fake.addMeeting("direct", { meetingName: "Direct" });
    const breakoutQuery =
      `meetingID=br-1&name=Breakout&isBreakout=true&parentMeetingID=${parent.internalMeetingID}` +
      "&sequence=2&freeJoin=true";
    assert.equal((await api(fake, "create", breakoutQuery)).doc.parentMeetingID, parent.internalMeetingID);

    const info = await api(fake, "getMeetingInfo", "meetingID=room-101");
    assert.deepEqual(childNames(info.text), [
      "returncode",
      "meetingName",
      "meetingID",
      "internalMeetingID",
      "createTime",
      "createDate",
      "voiceBridge",
      "dialNumber",
      "attendeePW",
      "moderatorPW",
      "running",
      "duration",
      "hasUserJoined",
      "recording",
      "hasBeenForciblyEnded",
      "startTime",
      "endTime",
      "participantCount",
      "listenerCount",
      "voiceParticipantCount",
      "videoCount",
      "maxUsers",
      "moderatorCount",
      "attendees",
      "metadata",
      "isBreakout",
    ]);
    const d = info.doc;
    assert.equal(d.running, "true");
    assert.equal(d.recording, "true");
    assert.equal(d.participantCount, "3");
    assert.equal(d.videoCount, "1");
    assert.equal(d.moderatorCount, "1");
    assert.equal(d.maxUsers, "25");
    assert.equal(d.endTime, "0");
    assert.deepEqual(d.metadata, { a: "1&2" });
    assert.deepEqual(d.attendees.attendee.map((a: Doc) => [a.fullName, a.role, a.hasVideo]), [
      ["Alice", "MODERATOR", "true"],
      ["Bob", "VIEWER", "false"],
      ["Eve", "VIEWER", "false"],
    ]);
    assert.deepEqual(d.attendees.attendee[2].customdata, { bbb_x: "y" });

    const list = (await api(fake, "getMeetings")).doc.meetings.meeting;
    assert.deepEqual(list.map((m: Doc) => m.meetingID), ["room-101", "direct", "br-1"]);
    assert.equal(list[1].running, "false");
    assert.equal(list[1].isBreakout, "false");
    assert.deepEqual(list[1].breakoutRooms.breakout, [fake.meetings.get("br-1")!.internalMeetingID]);
    assert.equal(list[2].isBreakout, "true");
    assert.equal(list[2].parentMeetingID, parent.internalMeetingID);
    assert.equal(list[2].sequence, "2");
    assert.equal(list[2].freeJoin, "true");
    assert.equal(fake.meetings.get("br-1")!.isBreakout, true);
    assert.notEqual(fake.meetings.get("br-1")!.voiceBridge, fake.meetings.get("room-101")!.voiceBridge);
  });
});

Deno.test("unknown call answers unsupportedRequest", async () => {
  await withFake(async (fake) => {
    const d = (await api(fake, "getRecordingsX", "")).doc;
    assert.equal(d.returncode, "FAILED");
    assert.equal(d.messageKey, "unsupportedRequest");
  });
});

Deno.test("stop() refuses connections, restart() serves the kept state on the same port", async () => {
  await withFake(async (fake) => {
    await api(fake, "create", "meetingID=s-1&name=Stop");
    const port = fake.port;
    await fake.stop();
    await assert.rejects(fetch(signedUrl(fake, "getMeetingInfo", "meetingID=s-1")), TypeError);
    await fake.stop();
    await fake.restart();
    assert.equal(fake.port, port);
    const d = (await api(fake, "getMeetingInfo", "meetingID=s-1")).doc;
    assert.equal(d.returncode, "SUCCESS");
    assert.equal(d.meetingName, "Stop");
  });
});

Deno.test("mode hang: a client timeout aborts; close() returns promptly and drops waiting requests", async () => {
  const fake = await FakeBbb.start();
  fake.mode = "hang";
  await assert.rejects(fetch(signedUrl(fake, "getMeetings"), { signal: AbortSignal.timeout(200) }));
  // The server is still healthy afterwards.
  fake.mode = "ok";
  assert.equal((await api(fake, "getMeetings")).doc.returncode, "SUCCESS");
  // A request still hanging when the server stops fails on the client side; stop/restart keeps working.
  fake.mode = "hang";
  const first = fetch(signedUrl(fake, "getMeetings"));
  while (fake.requests.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  await fake.stop();
  await assert.rejects(first, TypeError);
  await fake.restart();
  const second = fetch(signedUrl(fake, "getMeetings"));
  while (fake.requests.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
  const start = performance.now();
  await fake.close();
  assert.ok(performance.now() - start < 1000, "close() took too long");
  await assert.rejects(second, TypeError);
  assert.equal(fake.requests.length, 4);
  await fake.close();
});

Deno.test("modes garbage and http500; back to ok", async () => {
  await withFake(async (fake) => {
    fake.mode = "garbage";
    const g = await api(fake, "getMeetings");
    assert.equal(g.status, 200);
    assert.match(g.headers.get("content-type")!, /^text\/html/);
    assert.equal(g.text, "<html>oops</html>");
    fake.mode = "http500";
    assert.equal((await api(fake, "getMeetings")).status, 500);
    fake.mode = "ok";
    assert.equal((await api(fake, "getMeetings")).doc.returncode, "SUCCESS");
    assert.equal(fake.requests.length, 3);
  });
});

Deno.test("mode reset breaks the answer off; a per-call mode fails only that call", async () => {
  await withFake(async (fake) => {
    fake.addMeeting("m1");
    fake.mode = "reset";
    await assert.rejects(api(fake, "getMeetings"));
    fake.mode = "ok";
    fake.callModes.getMeetings = "http500";
    assert.equal((await api(fake, "getMeetings")).status, 500);
    assert.equal((await api(fake, "getMeetingInfo", "meetingID=m1")).doc.returncode, "SUCCESS");
    fake.callModes = {};
    assert.equal((await api(fake, "getMeetings")).doc.returncode, "SUCCESS");
  });
});

Deno.test("createDelayMs: the meeting runs at once, the create answer comes late", async () => {
  await withFake(async (fake) => {
    fake.createDelayMs = 300;
    const answer = api(fake, "create", "meetingID=late&name=Late");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await api(fake, "getMeetingInfo", "meetingID=late")).doc.returncode, "SUCCESS");
    let answered = false;
    answer.then(() => answered = true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(answered, false);
    assert.equal((await answer).doc.returncode, "SUCCESS");
  });
});

Deno.test("hidden meetings run but getMeetings leaves them out", async () => {
  await withFake(async (fake) => {
    fake.addMeeting("shown");
    fake.addMeeting("hid");
    fake.hidden.add("hid");
    const listed = (await api(fake, "getMeetings")).text;
    assert.match(listed, /<meetingID>shown<\/meetingID>/);
    assert.doesNotMatch(listed, /<meetingID>hid<\/meetingID>/);
    assert.equal((await api(fake, "getMeetingInfo", "meetingID=hid")).doc.returncode, "SUCCESS");
  });
});

// ---------------------------------------------------------------------------------------------------------
// Recordings, insertDocument, sendChatMessage and webhooks.

/** Hex SHA-1 of a string. */
function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** The recordIDs of a getRecordings document, in document order. */
function recordIDs(doc: Doc): string[] {
  return (doc.recordings?.recording ?? []).map((r: Doc) => r.recordID);
}

/** Signed getRecordings with `query`; returns the parsed document. */
async function getRecordings(fake: FakeBbb, query = ""): Promise<Doc> {
  const r = await api(fake, "getRecordings", query);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "text/xml;charset=utf-8");
  return r.doc;
}

/** Signed GET of a call answering JSON; returns status, headers and the parsed body. */
async function apiJson(
  fake: FakeBbb,
  call: string,
  query: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; text: string; json: Doc }> {
  const res = await fetch(signedUrl(fake, call, query), init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
}

Deno.test("getRecordings without filters lists every published recording in startTime order, in bbb-web's element order", async () => {
  await withFake(async (fake) => {
    const a1 = fake.addRecording("room-a", { name: "Room A", metadata: { "bbb-origin": "Greenlight" } });
    const b1 = fake.addRecording("room-b", { participants: 3, endTime: undefined });
    const a2 = fake.addRecording("room-a", { startTime: a1.startTime - 5000 });
    assert.ok(a1.startTime < b1.startTime, "default startTimes increase");
    assert.equal(a1.internalMeetingID, `${sha1("room-a")}-${a1.startTime}`);
    assert.equal(a1.recordID, a1.internalMeetingID);
    assert.equal(a1.endTime, a1.startTime + 60000);
    assert.equal(a1.state, "published");
    assert.equal(a1.published, true);
    assert.equal(b1.name, "room-b");
    assert.equal(a1.playbackUrl, `http://127.0.0.1:${fake.port}/playback/presentation/2.3/${a1.recordID}`);
    assert.equal(fake.recordings.get(a1.recordID), a1);

    const r = await api(fake, "getRecordings");
    assert.deepEqual(childNames(r.text), ["returncode", "recordings"]);
    assert.deepEqual(recordIDs(r.doc), [a2.recordID, a1.recordID, b1.recordID]);
    const recordingXml = r.text.slice(r.text.indexOf("<recording>"), r.text.indexOf("</recording>") + 12);
    assert.deepEqual(childNames(recordingXml), [
      "recordID",
      "meetingID",
      "internalMeetingID",
      "name",
      "isBreakout",
      "published",
      "state",
      "startTime",
      "endTime",
      "participants",
      "metadata",
      "playback",
    ]);
    const rec = r.doc.recordings.recording[1];
    assert.deepEqual(rec, {
      recordID: a1.recordID,
      meetingID: "room-a",
      internalMeetingID: a1.internalMeetingID,
      name: "Room A",
      isBreakout: "false",
      published: "true",
      state: "published",
      startTime: String(a1.startTime),
      endTime: String(a1.endTime),
      participants: "1",
      metadata: { "bbb-origin": "Greenlight" },
      playback: {
        format: { type: "presentation", url: a1.playbackUrl, processingTime: "0", length: "1" },
      },
    });
    assert.equal(r.doc.recordings.recording[2].participants, "3");
    assert.ok(r.text.includes("<metadata></metadata>"), "empty metadata is an empty element");
    assert.equal(fake.requests.at(-1)!.call, "getRecordings");

    // A recording without a playback format has no <playback> element.
    fake.addRecording("room-c", { playbackUrl: "" });
    const c = (await getRecordings(fake, "meetingID=room-c")).recordings.recording[0];
    assert.equal(c.playback, undefined);
  });
});

Deno.test("getRecordings matches meetingID by sha1 prefix, for one meeting with two recordings and for a comma list", async () => {
  await withFake(async (fake) => {
    const a1 = fake.addRecording("room-a");
    const a2 = fake.addRecording("room-a");
    const b = fake.addRecording("room-b");
    const c = fake.addRecording("room-c");
    // A recordID that is not sha1(meetingID)-based is not found by meetingID.
    fake.addRecording("room-a", { recordID: "custom-id" });
    assert.deepEqual(recordIDs(await getRecordings(fake, "meetingID=room-a")), [a1.recordID, a2.recordID]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "meetingID=room-c,room-b")), [
      b.recordID,
      c.recordID,
    ]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "meetingID=room-b%2Croom-c")), [
      b.recordID,
      c.recordID,
    ]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "meetingID=room-z")), []);
    // Surrounding whitespace is stripped like bbb-web's sanitizeInput.
    assert.deepEqual(recordIDs(await getRecordings(fake, "meetingID=+room-b+")), [b.recordID]);
  });
});

Deno.test("getRecordings matches recordID prefixes and lets recordID take precedence over meetingID", async () => {
  await withFake(async (fake) => {
    const a1 = fake.addRecording("room-a");
    const a2 = fake.addRecording("room-a");
    const b = fake.addRecording("room-b");
    assert.deepEqual(recordIDs(await getRecordings(fake, `recordID=${a2.recordID}`)), [a2.recordID]);
    // A bare sha1 is a wildcard for every recording of that meeting.
    assert.deepEqual(recordIDs(await getRecordings(fake, `recordID=${sha1("room-a")}`)), [
      a1.recordID,
      a2.recordID,
    ]);
    assert.deepEqual(recordIDs(await getRecordings(fake, `recordID=${b.recordID},${a1.recordID}`)), [
      a1.recordID,
      b.recordID,
    ]);
    // meetingID is ignored when recordID is present.
    assert.deepEqual(recordIDs(await getRecordings(fake, `meetingID=room-a&recordID=${b.recordID}`)), [
      b.recordID,
    ]);
    // Overlapping prefixes list a recording once.
    assert.deepEqual(
      recordIDs(await getRecordings(fake, `recordID=${b.recordID},${b.recordID.slice(0, 10)}`)),
      [b.recordID],
    );
    assert.deepEqual(recordIDs(await getRecordings(fake, "recordID=ffff")), []);
  });
});

Deno.test("getRecordings URL-decodes meetingID and recordID a second time before splitting them", async () => {
  await withFake(async (fake) => {
    const plus = fake.addRecording("a+b");
    const space = fake.addRecording("a b");
    const x = fake.addRecording("x");
    const y = fake.addRecording("y");
    // a%2Bb -> "a+b" -> second decode "a b": the recording of "a+b" is not found.
    assert.deepEqual(recordIDs(await getRecordings(fake, "meetingID=a%2Bb")), [space.recordID]);
    // Only a double-encoded "+" survives.
    assert.deepEqual(recordIDs(await getRecordings(fake, "meetingID=a%252Bb")), [plus.recordID]);
    // A double-encoded comma still splits the list.
    assert.deepEqual(recordIDs(await getRecordings(fake, "meetingID=x%252Cy")), [x.recordID, y.recordID]);
    assert.deepEqual(
      recordIDs(await getRecordings(fake, `recordID=${x.recordID}%252C${y.recordID}`)),
      [x.recordID, y.recordID],
    );
  });
});

Deno.test("getRecordings filters by state: published and unpublished by default, any, deleted and comma lists", async () => {
  await withFake(async (fake) => {
    const published = fake.addRecording("m1");
    const unpublished = fake.addRecording("m2", { state: "unpublished" });
    const deleted = fake.addRecording("m3", { state: "deleted", published: false });
    const processing = fake.addRecording("m4", { state: "processing", playbackUrl: "" });
    const processed = fake.addRecording("m5", { state: "processed" });
    assert.equal(unpublished.published, false);
    const all = [published, unpublished, deleted, processing, processed].map((r) => r.recordID);
    assert.deepEqual(recordIDs(await getRecordings(fake)), all.slice(0, 2));
    assert.deepEqual(recordIDs(await getRecordings(fake, "state=any")), all);
    assert.deepEqual(recordIDs(await getRecordings(fake, "state=deleted")), [deleted.recordID]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "state=processing,processed")), all.slice(3));
    assert.deepEqual(recordIDs(await getRecordings(fake, "state=unpublished,any")), all);
    const d = (await getRecordings(fake, "state=deleted")).recordings.recording[0];
    assert.equal(d.state, "deleted");
    assert.equal(d.published, "false");
    // State names are case-sensitive; unknown states match nothing.
    assert.equal((await getRecordings(fake, "state=PUBLISHED")).messageKey, "noRecordings");
    assert.equal((await getRecordings(fake, "state=bogus")).messageKey, "noRecordings");
  });
});

Deno.test("getRecordings ANDs meta filters with lower-cased names, exact values and % wildcards", async () => {
  await withFake(async (fake) => {
    const math = fake.addRecording("m1", { metadata: { course: "Math 101", "bbb-origin": "Greenlight" } });
    const physics = fake.addRecording("m2", { metadata: { course: "Physics 101", "bbb-origin": "Moodle" } });
    const none = fake.addRecording("m3");
    assert.deepEqual(recordIDs(await getRecordings(fake, "meta_course=Math+101")), [math.recordID]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "meta_Course=Math+101")), [math.recordID]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "meta_course=Math")), []);
    // %x ends with, x% starts with, %x% contains (the % travels as %25).
    assert.deepEqual(recordIDs(await getRecordings(fake, "meta_course=%25101")), [
      math.recordID,
      physics.recordID,
    ]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "meta_course=Math%25")), [math.recordID]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "meta_course=%25ysic%25")), [physics.recordID]);
    // ANDed with each other and with the other filters.
    assert.deepEqual(recordIDs(await getRecordings(fake, "meta_course=%25101&meta_bbb-origin=Moodle")), [
      physics.recordID,
    ]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "meetingID=m2&meta_course=Math%25")), []);
    // A recording without the key never matches; invalid meta names are ignored.
    assert.deepEqual(recordIDs(await getRecordings(fake, "meta_nokey=%25")), []);
    assert.deepEqual(recordIDs(await getRecordings(fake, "meta_x_y=1")), [
      math.recordID,
      physics.recordID,
      none.recordID,
    ]);
  });
});

Deno.test("getRecordings pages with offset and limit, clamping them like bbb-web and adding the pagination element", async () => {
  await withFake(async (fake) => {
    const ids = Array.from({ length: 5 }, (_, i) => fake.addRecording(`m${i}`).recordID);
    const page = await api(fake, "getRecordings", "limit=2");
    assert.deepEqual(childNames(page.text), ["returncode", "recordings", "pagination"]);
    assert.deepEqual(recordIDs(page.doc), ids.slice(0, 2));
    assert.deepEqual(page.doc.pagination, {
      pageable: { offset: "0", limit: "2", paged: "true", unpaged: "false" },
      totalElements: "5",
      empty: "false",
    });
    const cases: [string, string[], string | undefined][] = [
      ["offset=2&limit=2", ids.slice(2, 4), "2"],
      ["offset=4&limit=2", ids.slice(4), "4"],
      ["offset=-3&limit=2", ids.slice(0, 2), "0"],
      ["offset=abc&limit=2", ids.slice(0, 2), "0"],
      ["offset=1&limit=0", ids.slice(1, 2), "1"],
      ["offset=1&limit=-7", ids.slice(1, 2), "1"],
      ["limit=500", ids, "0"],
      // No (parseable) limit: no paging at all, the offset is ignored.
      ["limit=abc", ids, undefined],
      ["offset=2", ids, undefined],
      ["offset=2&limit=", ids, undefined],
    ];
    for (const [query, expected, offset] of cases) {
      const doc = await getRecordings(fake, query);
      assert.deepEqual(recordIDs(doc), expected, query);
      assert.equal(doc.pagination?.pageable.offset, offset, query);
    }
    assert.equal((await getRecordings(fake, "limit=0")).pagination.pageable.limit, "1");
    assert.equal((await getRecordings(fake, "limit=500")).pagination.pageable.limit, "100");
    // Past the end: the noRecordings envelope, then the pagination element.
    const past = await api(fake, "getRecordings", "offset=10&limit=2");
    assert.deepEqual(childNames(past.text), [
      "returncode",
      "recordings",
      "messageKey",
      "message",
      "pagination",
    ]);
    assert.equal(past.doc.messageKey, "noRecordings");
    assert.equal(past.doc.pagination.empty, "true");
    assert.equal(past.doc.pagination.totalElements, "5");
  });
});

Deno.test("getRecordings answers the noRecordings envelope exactly when nothing matches", async () => {
  await withFake(async (fake) => {
    for (const query of ["", "meetingID=nothing-here", "recordID=abc"]) {
      const r = await api(fake, "getRecordings", query);
      assert.deepEqual(childNames(r.text), ["returncode", "recordings", "messageKey", "message"]);
      assert.ok(r.text.includes("<recordings></recordings>"), r.text);
      assert.equal(r.doc.returncode, "SUCCESS");
      assert.equal(r.doc.messageKey, "noRecordings");
      assert.equal(r.doc.message, "There are no recordings for the meeting(s).");
      fake.addRecording("other");
    }
  });
});

Deno.test("the recording calls answer checksum errors with the legacy wording", async () => {
  await withFake(async (fake) => {
    const rec = fake.addRecording("m1");
    const calls: [string, string][] = [
      ["getRecordings", ""],
      ["publishRecordings", `recordID=${rec.recordID}&publish=false`],
      ["updateRecordings", `recordID=${rec.recordID}&meta_a=b`],
      ["deleteRecordings", `recordID=${rec.recordID}`],
      ["getRecordingTextTracks", `recordID=${rec.recordID}`],
    ];
    for (const [call, query] of calls) {
      for (
        const url of [
          `${fake.apiUrl}${call}?${query}`,
          `${fake.apiUrl}${call}?${query}&checksum=${"0".repeat(40)}`,
        ]
      ) {
        const r = await get(url);
        assert.equal(r.doc.returncode, "FAILED", url);
        assert.equal(r.doc.messageKey, "checksumError", url);
        assert.equal(r.doc.message, "You did not pass the checksum security check", url);
        assert.equal(fake.requests.at(-1)!.checksumOk, false);
      }
      // sha256 works too.
      const ok = await api(fake, call, query, "sha256");
      assert.notEqual(ok.doc?.messageKey, "checksumError", call);
      assert.ok(fake.requests.at(-1)!.checksumOk, call);
    }
    assert.equal(rec.state, "deleted");
    assert.deepEqual(rec.metadata, { a: "b" });
  });
});

Deno.test("publishRecordings changes published/unpublished state, echoes the value and accepts unknown IDs next to known ones", async () => {
  await withFake(async (fake) => {
    const r1 = fake.addRecording("m1");
    const r2 = fake.addRecording("m2", { state: "unpublished" });
    const unpublish = await api(
      fake,
      "publishRecordings",
      `recordID=${r1.recordID},unknown-id&publish=false`,
    );
    assert.equal(
      unpublish.text,
      "<response><returncode>SUCCESS</returncode><published>false</published></response>",
    );
    assert.equal(r1.state, "unpublished");
    assert.equal(r1.published, false);
    assert.deepEqual(recordIDs(await getRecordings(fake, "state=unpublished")), [r1.recordID, r2.recordID]);

    // The value is echoed as sent; Groovy's toBoolean reads "TRUE" as true.
    const publish = await api(
      fake,
      "publishRecordings",
      `recordID=${r1.recordID},${r2.recordID}&publish=TRUE`,
    );
    assert.equal(publish.doc.returncode, "SUCCESS");
    assert.equal(publish.doc.published, "TRUE");
    assert.deepEqual([r1.state, r2.state, r1.published, r2.published], [
      "published",
      "published",
      true,
      true,
    ]);
    // Publishing a published recording changes nothing.
    assert.equal(
      (await api(fake, "publishRecordings", `recordID=${r1.recordID}&publish=true`)).doc.returncode,
      "SUCCESS",
    );
    assert.equal(r1.state, "published");

    const unknown = (await api(fake, "publishRecordings", "recordID=nope,also-nope&publish=true")).doc;
    assert.deepEqual(unknown, {
      returncode: "FAILED",
      messageKey: "notFound",
      message: "We could not find recordings",
    });
    // A recordID prefix is not enough: publish needs exact IDs.
    const prefix = (await api(fake, "publishRecordings", `recordID=${sha1("m1")}&publish=true`)).doc;
    assert.equal(prefix.messageKey, "notFound");
  });
});

Deno.test("publishRecordings reports missing recordID, missing publish and checksum errors in bbb-web's order", async () => {
  await withFake(async (fake) => {
    const r1 = fake.addRecording("m1");
    const missingId = (await api(fake, "publishRecordings", "publish=true")).doc;
    assert.equal(missingId.messageKey, "missingParamRecordID");
    assert.equal(missingId.message, "You must specify a recordID.");
    const missingPublish = (await api(fake, "publishRecordings", `recordID=${r1.recordID}`)).doc;
    assert.equal(missingPublish.messageKey, "missingParamPublish");
    assert.equal(missingPublish.message, "You must specify a publish value true or false.");
    assert.equal(
      (await api(fake, "publishRecordings", `recordID=${r1.recordID}&publish=`)).doc.messageKey,
      "missingParamPublish",
    );
    // The parameters are checked before the checksum value (but after its presence).
    const badSum = `checksum=${"0".repeat(40)}`;
    assert.equal(
      (await get(`${fake.apiUrl}publishRecordings?publish=true&${badSum}`)).doc.messageKey,
      "missingParamRecordID",
    );
    assert.equal((await get(`${fake.apiUrl}publishRecordings?publish=true`)).doc.messageKey, "checksumError");
    assert.equal(
      (await get(`${fake.apiUrl}publishRecordings?recordID=${r1.recordID}&publish=false&${badSum}`)).doc
        .messageKey,
      "checksumError",
    );
    assert.equal(r1.state, "published");
    for (const call of ["updateRecordings", "deleteRecordings"]) {
      const d = (await api(fake, call, "")).doc;
      assert.equal(d.messageKey, "missingParamRecordID", call);
      assert.equal((await api(fake, call, "recordID=nope")).doc.messageKey, "notFound", call);
    }
  });
});

Deno.test("updateRecordings adds, replaces and removes metadata, sets protect and accepts unknown IDs next to known ones", async () => {
  await withFake(async (fake) => {
    const r1 = fake.addRecording("m1", { metadata: { a: "1", b: "2" } });
    const r2 = fake.addRecording("m2", { metadata: { a: "1" } });
    const r = await api(
      fake,
      "updateRecordings",
      `recordID=${r1.recordID},nope&meta_A=10&meta_b=&meta_c=3&meta_x_y=no`,
    );
    assert.equal(r.text, "<response><returncode>SUCCESS</returncode><updated>true</updated></response>");
    assert.deepEqual(r1.metadata, { a: "10", c: "3" });
    assert.deepEqual(r2.metadata, { a: "1" });
    assert.equal(r1.protected, undefined);

    assert.equal(
      (await api(fake, "updateRecordings", `recordID=${r2.recordID}&protect=true`)).doc.updated,
      "true",
    );
    assert.equal(r2.protected, true);
    const listed = await api(fake, "getRecordings", `recordID=${r2.recordID}`);
    const recordingXml = listed.text.slice(listed.text.indexOf("<recording>"));
    assert.deepEqual(childNames(recordingXml).slice(5, 8), ["published", "protected", "state"]);
    assert.equal(listed.doc.recordings.recording[0].protected, "true");
    await api(fake, "updateRecordings", `recordID=${r2.recordID}&protect=false`);
    assert.equal(r2.protected, false);

    // Deleted recordings keep their metadata editable once found through a published one.
    fake.addRecording("m1", { recordID: `${r1.recordID}-old`, state: "deleted" });
    await api(fake, "updateRecordings", `recordID=${r1.recordID}&meta_d=4`);
    assert.equal(fake.recordings.get(`${r1.recordID}-old`)!.metadata.d, "4");
    assert.equal((await api(fake, "updateRecordings", "recordID=nope&meta_a=1")).doc.messageKey, "notFound");
  });
});

Deno.test("deleteRecordings moves recordings to the deleted state, after which they count as not found", async () => {
  await withFake(async (fake) => {
    const r1 = fake.addRecording("m1");
    const r2 = fake.addRecording("m2", { state: "unpublished" });
    const r3 = fake.addRecording("m3");
    const r = await api(fake, "deleteRecordings", `recordID=${r1.recordID},${r2.recordID},unknown`);
    assert.equal(r.text, "<response><returncode>SUCCESS</returncode><deleted>true</deleted></response>");
    assert.deepEqual([r1.state, r2.state, r3.state], ["deleted", "deleted", "published"]);
    assert.deepEqual([r1.published, r2.published], [false, false]);
    assert.deepEqual(recordIDs(await getRecordings(fake)), [r3.recordID]);
    assert.deepEqual(recordIDs(await getRecordings(fake, "state=deleted")), [r1.recordID, r2.recordID]);
    assert.equal((await api(fake, "deleteRecordings", `recordID=${r1.recordID}`)).doc.messageKey, "notFound");
    assert.equal(
      (await api(fake, "publishRecordings", `recordID=${r1.recordID}&publish=true`)).doc.messageKey,
      "notFound",
    );
    assert.equal(fake.requests.filter((q) => q.call === "deleteRecordings").length, 2);
  });
});

Deno.test("getRecordingTextTracks answers JSON tracks, JSON noRecordings and XML missingParamRecordID", async () => {
  await withFake(async (fake) => {
    const track = {
      href: "https://example.org/textTrack/x/de-DE.vtt",
      kind: "captions" as const,
      label: "Deutsch",
      lang: "de-DE",
      source: "live" as const,
    };
    const rec = fake.addRecording("m1", { textTracks: [track] });
    const bare = fake.addRecording("m2");
    const r = await apiJson(fake, "getRecordingTextTracks", `recordID=${rec.recordID}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(r.json, { response: { returncode: "SUCCESS", tracks: [track] } });
    assert.deepEqual(Object.keys(r.json.response.tracks[0]), ["href", "kind", "label", "lang", "source"]);
    assert.deepEqual(
      (await apiJson(fake, "getRecordingTextTracks", `recordID=${bare.recordID}`)).json,
      { response: { returncode: "SUCCESS", tracks: [] } },
    );
    assert.deepEqual((await apiJson(fake, "getRecordingTextTracks", "recordID=nope")).json, {
      response: { returncode: "FAILED", messageKey: "noRecordings", message: "No recording found for nope" },
    });
    const missing = await api(fake, "getRecordingTextTracks", "");
    assert.equal(missing.headers.get("content-type"), "text/xml;charset=utf-8");
    assert.equal(missing.doc.messageKey, "missingParamRecordID");
    assert.equal(missing.doc.message, "You must specify a recordID.");
  });
});

/** POSTs `form` to putRecordingTextTrack with `query` signed; returns status, headers, text and JSON (if JSON). */
async function putTrack(
  fake: FakeBbb,
  query: string,
  form: FormData | undefined,
  url = signedUrl(fake, "putRecordingTextTrack", query),
): Promise<{ status: number; headers: Headers; text: string; json: Doc; doc: Doc }> {
  const res = await fetch(url, { method: "POST", body: form });
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: type.startsWith("application/json") ? JSON.parse(text) : undefined,
    doc: type.startsWith("text/xml") ? parser.parse(text).response : undefined,
  };
}

function vttForm(content = "WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n", name = "en.vtt"): FormData {
  const form = new FormData();
  form.append("file", new File([content], name, { type: "text/vtt" }));
  return form;
}

Deno.test("putRecordingTextTrack accepts a real multipart upload, records it and lists the new track", async () => {
  await withFake(async (fake) => {
    const rec = fake.addRecording("m1");
    const query = `recordID=${rec.recordID}&kind=subtitles&lang=en-US&label=English+(upload)`;
    const r = await putTrack(fake, query, vttForm());
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(r.json, {
      response: {
        returncode: "SUCCESS",
        recordId: rec.recordID,
        messageKey: "upload_text_track_success",
        message: "Text track uploaded successfully",
      },
    });
    assert.deepEqual(fake.uploads, [{
      recordID: rec.recordID,
      kind: "subtitles",
      lang: "en-US",
      label: "English (upload)",
      fileName: "en.vtt",
      content: "WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n",
      contentType: "text/vtt",
    }]);
    const received = fake.requests.at(-1)!;
    assert.equal(received.method, "POST");
    assert.equal(received.call, "putRecordingTextTrack");
    assert.match(received.contentType!, /^multipart\/form-data; boundary=/);
    assert.ok(received.checksumOk, "the checksum covers the query only");
    assert.ok(received.body!.includes("Hello"));

    const tracks =
      (await apiJson(fake, "getRecordingTextTracks", `recordID=${rec.recordID}`)).json.response.tracks;
    assert.deepEqual(tracks, [{
      href: `http://127.0.0.1:${fake.port}/bigbluebutton/textTrack/${rec.recordID}/en-US.vtt`,
      kind: "subtitles",
      label: "English (upload)",
      lang: "en-US",
      source: "upload",
    }]);

    // No label: the language's display name; an underscore tag is normalised; the same language replaces.
    await putTrack(fake, `recordID=${rec.recordID}&kind=captions&lang=de_DE`, vttForm("WEBVTT\n", "de.vtt"));
    await putTrack(
      fake,
      `recordID=${rec.recordID}&kind=captions&lang=en-US`,
      vttForm("WEBVTT\n\nnew", "en2.vtt"),
    );
    assert.deepEqual(rec.textTracks.map((t) => [t.lang, t.kind, t.label]), [
      ["de-DE", "captions", "German"],
      ["en-US", "captions", "English"],
    ]);
    assert.equal(fake.uploads.length, 3);
    assert.equal(fake.uploads[1].label, null);
    assert.equal(fake.uploads[1].lang, "de_DE");
  });
});

Deno.test("putRecordingTextTrack reports paramError, checksumError, noRecordings, invalidKind, invalidLang and empty_uploaded_text_track", async () => {
  await withFake(async (fake) => {
    const rec = fake.addRecording("m1");
    const deleted = fake.addRecording("m2", { state: "deleted" });
    const id = rec.recordID;
    const cases: [string, string, string][] = [
      ["kind=subtitles&lang=en", "paramError", "Missing param recordID."],
      [`recordID=nope&kind=subtitles&lang=en`, "noRecordings", "No recording was found for nope"],
      [
        `recordID=${deleted.recordID}&kind=subtitles&lang=en`,
        "noRecordings",
        `No recording was found for ${deleted.recordID}`,
      ],
      [`recordID=${id}&lang=en`, "paramError", "Missing param kind."],
      [
        `recordID=${id}&kind=chapters&lang=en`,
        "invalidKind",
        "Invalid kind parameter, expected='subtitles|captions' actual=chapters",
      ],
      [`recordID=${id}&kind=subtitles`, "paramError", "Missing param lang."],
      [
        `recordID=${id}&kind=subtitles&lang=english!`,
        "invalidLang",
        "Malformed lang param, received=english!",
      ],
    ];
    for (const [query, key, message] of cases) {
      const r = await putTrack(fake, query, vttForm());
      assert.equal(r.status, 200, query);
      assert.deepEqual(r.json, { response: { returncode: "FAILED", messageKey: key, message } }, query);
    }
    const query = `recordID=${id}&kind=subtitles&lang=en`;
    // No file part, an empty file, or no body at all.
    const noFile = new FormData();
    noFile.append("note", "x");
    for (const form of [noFile, vttForm(""), undefined]) {
      const r = await putTrack(fake, query, form);
      assert.deepEqual(r.json, {
        response: {
          returncode: "FAILED",
          messageKey: "empty_uploaded_text_track",
          message: "Empty uploaded text track.",
        },
      });
    }
    // Missing checksum: JSON paramError; wrong checksum: the legacy XML error.
    const missing = await putTrack(fake, query, vttForm(), `${fake.apiUrl}putRecordingTextTrack?${query}`);
    assert.deepEqual(missing.json, {
      response: { returncode: "FAILED", messageKey: "paramError", message: "Missing param checksum." },
    });
    const wrong = await putTrack(
      fake,
      query,
      vttForm(),
      `${fake.apiUrl}putRecordingTextTrack?${query}&checksum=${"0".repeat(40)}`,
    );
    assert.equal(wrong.doc.messageKey, "checksumError");
    assert.equal(wrong.doc.message, "You did not pass the checksum security check");
    assert.deepEqual(fake.uploads, []);
    assert.deepEqual(rec.textTracks, []);
  });
});

Deno.test("insertDocument records the XML body on the meeting; unknown meetings and non-XML bodies fail", async () => {
  await withFake(async (fake) => {
    const meeting = fake.addMeeting("doc-1");
    assert.deepEqual(meeting.documents, []);
    const body =
      '<modules><module name="presentation"><document url="https://x/a.pdf" filename="a.pdf"/></module></modules>';
    const url = signedUrl(fake, "insertDocument", "meetingID=doc-1");
    const r = await get(url, { method: "POST", body, headers: { "content-type": "application/xml" } });
    assert.equal(r.status, 200);
    assert.deepEqual(childNames(r.text), ["returncode", "messageKey", "message"]);
    assert.deepEqual(r.doc, {
      returncode: "SUCCESS",
      messageKey: "",
      message: "Presentation is being uploaded",
    });
    assert.deepEqual(meeting.documents, [body]);
    const rec = fake.requests.at(-1)!;
    assert.equal(rec.call, "insertDocument");
    assert.equal(rec.body, body);
    assert.ok(rec.checksumOk);
    for (const type of ["text/xml", "application/xml; charset=UTF-8"]) {
      assert.equal(
        (await get(url, { method: "POST", body, headers: { "content-type": type } })).doc.returncode,
        "SUCCESS",
      );
    }
    assert.equal(meeting.documents.length, 3);
    for (const type of ["application/x-www-form-urlencoded", "application/json"]) {
      const bad = await get(url, { method: "POST", body, headers: { "content-type": type } });
      assert.equal(bad.doc.messageKey, "unsupportedContentType", type);
    }
    const unknown = await get(signedUrl(fake, "insertDocument", "meetingID=nope"), {
      method: "POST",
      body,
      headers: { "content-type": "application/xml" },
    });
    assert.deepEqual(unknown.doc, {
      returncode: "FAILED",
      messageKey: "notFound",
      message: "Meeting with id [nope] not found.",
    });
    assert.equal((await api(fake, "insertDocument", "")).doc.messageKey, "missingParamMeetingID");
    const badSum = await get(`${fake.apiUrl}insertDocument?meetingID=doc-1&checksum=${"0".repeat(40)}`, {
      method: "POST",
      body,
      headers: { "content-type": "application/xml" },
    });
    assert.equal(badSum.doc.message, "Checksums do not match");
    assert.equal(meeting.documents.length, 3);
  });
});

Deno.test("sendChatMessage records messages on the meeting and validates message and userName", async () => {
  await withFake(async (fake) => {
    const meeting = fake.addMeeting("chat-1");
    const r = await api(fake, "sendChatMessage", "meetingID=chat-1&message=Hello+all&userName=Bot");
    assert.deepEqual(childNames(r.text), ["returncode", "messageKey", "message"]);
    assert.deepEqual(r.doc, { returncode: "SUCCESS", messageKey: "", message: "" });
    assert.equal(
      (await api(fake, "sendChatMessage", `meetingID=chat-1&message=${"x".repeat(500)}`)).doc.returncode,
      "SUCCESS",
    );
    assert.deepEqual(meeting.chat, [
      { userName: "Bot", message: "Hello all" },
      { userName: "System", message: "x".repeat(500) },
    ]);
    const failures: [string, string, string][] = [
      ["meetingID=chat-1", "nullError", "You must provide the param message"],
      ["meetingID=chat-1&message=", "sizeError", "Param message must be between 1 and 500 characters"],
      [
        `meetingID=chat-1&message=${"x".repeat(501)}`,
        "sizeError",
        "Param message must be between 1 and 500 characters",
      ],
      [
        `meetingID=chat-1&message=hi&userName=${"u".repeat(256)}`,
        "sizeError",
        "Param userName must not exceed 255 characters",
      ],
      ["message=hi", "missingParamMeetingID", "You must provide a meeting ID"],
      ["meetingID=nope&message=hi", "notFound", "A meeting with that ID does not exist"],
    ];
    for (const [query, key, message] of failures) {
      const d = (await api(fake, "sendChatMessage", query)).doc;
      assert.deepEqual(d, { returncode: "FAILED", messageKey: key, message }, query);
    }
    assert.equal(meeting.chat.length, 2);
    assert.equal(
      (await get(`${fake.apiUrl}sendChatMessage?meetingID=chat-1&message=hi`)).doc.messageKey,
      "checksumError",
    );
  });
});

Deno.test("hooks/create, hooks/list and hooks/destroy manage webhooks with increasing IDs and bbb-webhooks' XML", async () => {
  await withFake(async (fake) => {
    const created = await api(
      fake,
      "hooks/create",
      `callbackURL=${encodeURIComponent("https://cb.example/a?x=1&y=2")}`,
    );
    assert.equal(created.status, 200);
    assert.equal(created.headers.get("content-type"), "text/xml; charset=utf-8");
    assert.equal(
      created.text,
      "<response><returncode>SUCCESS</returncode><hookID>1</hookID><permanentHook>false</permanentHook>" +
        "<rawData>false</rawData></response>",
    );
    const second =
      (await api(fake, "hooks/create", "callbackURL=https%3A%2F%2Fcb.example%2Fb&meetingID=m1&getRaw=true"))
        .doc;
    assert.deepEqual(second, { returncode: "SUCCESS", hookID: "2", permanentHook: "false", rawData: "true" });
    await api(
      fake,
      "hooks/create",
      "callbackURL=https%3A%2F%2Fcb.example%2Fc&meetingID=m2&eventID=meeting-created,user-joined",
    );
    assert.deepEqual([...fake.hooks.values()], [
      {
        hookID: "1",
        callbackURL: "https://cb.example/a?x=1&y=2",
        meetingID: null,
        eventID: null,
        getRaw: false,
      },
      { hookID: "2", callbackURL: "https://cb.example/b", meetingID: "m1", eventID: null, getRaw: true },
      {
        hookID: "3",
        callbackURL: "https://cb.example/c",
        meetingID: "m2",
        eventID: "meeting-created,user-joined",
        getRaw: false,
      },
    ]);

    const all = await api(fake, "hooks/list");
    assert.ok(
      all.text.startsWith("<response><returncode>SUCCESS</returncode><hooks><hook><hookID>1</hookID>"),
    );
    assert.ok(
      all.text.includes("<callbackURL><![CDATA[https://cb.example/a?x=1&y=2]]></callbackURL>"),
      all.text,
    );
    assert.ok(all.text.includes("<meetingID><![CDATA[m1]]></meetingID>"));
    assert.deepEqual(all.doc.hooks.hook, [
      { hookID: "1", callbackURL: "https://cb.example/a?x=1&y=2", permanentHook: "false", rawData: "false" },
      {
        hookID: "2",
        callbackURL: "https://cb.example/b",
        meetingID: "m1",
        permanentHook: "false",
        rawData: "true",
      },
      {
        hookID: "3",
        callbackURL: "https://cb.example/c",
        meetingID: "m2",
        eventID: "meeting-created,user-joined",
        permanentHook: "false",
        rawData: "false",
      },
    ]);
    // By meeting: the global hooks plus the meeting's.
    assert.deepEqual(
      (await api(fake, "hooks/list", "meetingID=m1")).doc.hooks.hook.map((h: Doc) => h.hookID),
      ["1", "2"],
    );
    assert.deepEqual(
      (await api(fake, "hooks/list", "meetingID=zz")).doc.hooks.hook.map((h: Doc) => h.hookID),
      ["1"],
    );

    const removed = await api(fake, "hooks/destroy", "hookID=2");
    assert.equal(
      removed.text,
      "<response><returncode>SUCCESS</returncode><removed>true</removed></response>",
    );
    assert.deepEqual([...fake.hooks.keys()], ["1", "3"]);
    assert.deepEqual((await api(fake, "hooks/destroy", "hookID=2")).doc, {
      returncode: "FAILED",
      messageKey: "destroyMissingHook",
      message: "The hook informed was not found.",
    });
    // IDs keep increasing after a removal.
    assert.equal(
      (await api(fake, "hooks/create", "callbackURL=https%3A%2F%2Fcb.example%2Fd")).doc.hookID,
      "4",
    );
    await api(fake, "hooks/destroy", "hookID=1");
    await api(fake, "hooks/destroy", "hookID=3");
    await api(fake, "hooks/destroy", "hookID=4");
    const empty = await api(fake, "hooks/list");
    assert.equal(empty.text, "<response><returncode>SUCCESS</returncode><hooks></hooks></response>");
    assert.deepEqual(fake.requests.map((q) => q.call).slice(0, 3), [
      "hooks/create",
      "hooks/create",
      "hooks/create",
    ]);
  });
});

Deno.test("hooks/create answers duplicateWarning for a known callback URL; missing parameters and checksum errors", async () => {
  await withFake(async (fake) => {
    const first = (await api(fake, "hooks/create", "callbackURL=https%3A%2F%2Fcb.example%2Fa")).doc;
    const dup = await api(fake, "hooks/create", "callbackURL=https%3A%2F%2Fcb.example%2Fa&meetingID=other");
    assert.deepEqual(childNames(dup.text), ["returncode", "hookID", "messageKey", "message"]);
    assert.deepEqual(dup.doc, {
      returncode: "SUCCESS",
      hookID: first.hookID,
      messageKey: "duplicateWarning",
      message: "There is already a hook for this callback URL.",
    });
    assert.equal(fake.hooks.size, 1);
    assert.equal(fake.hooks.get(first.hookID)!.meetingID, null);

    assert.deepEqual((await api(fake, "hooks/create", "meetingID=m1")).doc, {
      returncode: "FAILED",
      messageKey: "missingParamCallbackURL",
      message: "You must specify a callbackURL in the parameters.",
    });
    assert.deepEqual((await api(fake, "hooks/destroy", "")).doc, {
      returncode: "FAILED",
      messageKey: "missingParamHookID",
      message: "You must specify a hookID in the parameters.",
    });
    for (const op of ["create", "list", "destroy"]) {
      for (
        const suffix of ["?callbackURL=x&hookID=1", `?callbackURL=x&hookID=1&checksum=${"0".repeat(40)}`]
      ) {
        const r = await get(`${fake.apiUrl}hooks/${op}${suffix}`);
        assert.deepEqual(r.doc, {
          returncode: "FAILED",
          messageKey: "checksumError",
          message: "You did not pass the checksum security check.",
        });
        assert.equal(fake.requests.at(-1)!.checksumOk, false);
      }
    }
    // Signed for another operation: rejected.
    const sum = checksum("hooks/list", "", fake.secret);
    assert.equal((await get(`${fake.apiUrl}hooks/destroy?checksum=${sum}`)).doc.messageKey, "checksumError");
    assert.equal(fake.hooks.size, 1);
  });
});

Deno.test("hooks accept all four checksum algorithms and the hooks/list reference vector", async () => {
  await withFake(async (fake) => {
    const vector = await get(
      `${fake.apiUrl}hooks/list?meetingID=abc123&checksum=b273a4808ed67c28f5402490a17ff9638bcf7c61`,
    );
    assert.equal(vector.doc.returncode, "SUCCESS");
    for (const algorithm of ["sha1", "sha256", "sha384", "sha512"]) {
      const r = await api(
        fake,
        "hooks/create",
        `callbackURL=https%3A%2F%2Fcb.example%2F${algorithm}`,
        algorithm,
      );
      assert.equal(r.doc.returncode, "SUCCESS", algorithm);
    }
    assert.equal(fake.hooks.size, 4);
  }, { secret: VECTOR_SECRET });
});

Deno.test("hooks answer other methods than GET with a 404 and unknown hooks calls with unsupportedRequest", async () => {
  await withFake(async (fake) => {
    const r = await fetch(signedUrl(fake, "hooks/create", "callbackURL=x"), { method: "POST", body: "" });
    assert.equal(r.status, 404);
    assert.match(await r.text(), /Cannot POST \/bigbluebutton\/api\/hooks\/create/);
    assert.equal(fake.hooks.size, 0);
    const ping = await fetch(`${fake.apiUrl}hooks/ping`);
    assert.equal(await ping.text(), "bbb-webhooks API up!");
    assert.equal((await api(fake, "hooks/nope", "")).doc.messageKey, "unsupportedRequest");
  });
});

Deno.test("the new calls honour the hang, garbage and http500 modes and keep their state across stop and restart", async () => {
  await withFake(async (fake) => {
    const rec = fake.addRecording("m1");
    fake.addMeeting("m1");
    const requests: [string, () => Promise<Response>][] = [
      ["getRecordings", () => fetch(signedUrl(fake, "getRecordings"))],
      [
        "publishRecordings",
        () => fetch(signedUrl(fake, "publishRecordings", `recordID=${rec.recordID}&publish=false`)),
      ],
      [
        "getRecordingTextTracks",
        () => fetch(signedUrl(fake, "getRecordingTextTracks", `recordID=${rec.recordID}`)),
      ],
      [
        "putRecordingTextTrack",
        () =>
          fetch(signedUrl(fake, "putRecordingTextTrack", `recordID=${rec.recordID}&kind=subtitles&lang=en`), {
            method: "POST",
            body: vttForm(),
          }),
      ],
      [
        "insertDocument",
        () =>
          fetch(signedUrl(fake, "insertDocument", "meetingID=m1"), {
            method: "POST",
            body: "<modules/>",
            headers: { "content-type": "application/xml" },
          }),
      ],
      ["sendChatMessage", () => fetch(signedUrl(fake, "sendChatMessage", "meetingID=m1&message=hi"))],
      ["hooks/create", () => fetch(signedUrl(fake, "hooks/create", "callbackURL=x"))],
    ];
    for (const [call, send] of requests) {
      fake.mode = "garbage";
      const g = await send();
      assert.equal(await g.text(), "<html>oops</html>", call);
      assert.match(g.headers.get("content-type")!, /^text\/html/);
      fake.mode = "http500";
      const e = await send();
      assert.equal(e.status, 500, call);
      await e.body?.cancel();
      fake.mode = "hang";
      await assert.rejects(
        Promise.race([
          send(),
          new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 100)),
        ]),
        /timeout/,
        call,
      );
      assert.equal(fake.requests.at(-1)!.call, call);
    }
    // Nothing changed: every request was answered (or held) before its handler ran.
    assert.equal(rec.state, "published");
    assert.deepEqual(fake.uploads, []);
    assert.equal(fake.hooks.size, 0);
    assert.deepEqual(fake.meetings.get("m1")!.chat, []);

    fake.mode = "ok";
    await fake.stop();
    await fake.restart();
    await api(fake, "hooks/create", "callbackURL=x");
    await fake.stop();
    await assert.rejects(fetch(signedUrl(fake, "getRecordings")), TypeError);
    await fake.restart();
    assert.deepEqual(recordIDs(await getRecordings(fake)), [rec.recordID]);
    assert.equal((await api(fake, "hooks/list")).doc.hooks.hook.length, 1);
  });
});

Deno.test("the version document reveals bbbVersion when the fake is set to", async () => {
  await withFake(async (fake) => {
    fake.bbbVersion = "3.0.34";
    assert.equal((await get(fake.apiUrl)).doc.bbbVersion, "3.0.34");
  });
});

Deno.test("getSessions lists each joined user with the internal meetingID, or noSessions", async () => {
  await withFake(async (fake) => {
    const empty = await api(fake, "getSessions", "");
    assert.equal(empty.doc.returncode, "SUCCESS");
    assert.equal(empty.doc.messageKey, "noSessions");
    await api(fake, "create", "meetingID=s-1&name=Seminar");
    await api(fake, "join", "meetingID=s-1&fullName=Ann&role=MODERATOR&redirect=false");
    await api(fake, "join", "meetingID=s-1&fullName=Bot&role=VIEWER&redirect=false&bot=true");
    const r = await api(fake, "getSessions", "");
    const sessions = new XMLParser({ parseTagValue: false, isArray: (n) => n === "session" }).parse(r.text)
      .response.sessions.session;
    assert.equal(sessions.length, 2);
    assert.equal(sessions[0].meetingID, fake.meetings.get("s-1")!.internalMeetingID);
    assert.equal(sessions[0].meetingName, "Seminar");
    assert.deepEqual(sessions.map((s: Doc) => s.fullName), ["Ann", "Bot"]);
    assert.equal(fake.meetings.get("s-1")!.participants[1].bot, true);
    assert.equal((await get(`${fake.apiUrl}getSessions?checksum=abc`)).doc.messageKey, "checksumError");
  });
});
