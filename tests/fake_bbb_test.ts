/**
 * Tests of the fake BigBlueButton server (tests/fake_bbb.ts) over real sockets: checksum handling as in
 * bbb-web, the meeting calls and their XML documents, and the failure modes used by bbblb's tests.
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
  isArray: (name) => ["meeting", "attendee", "error", "breakout"].includes(name),
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
