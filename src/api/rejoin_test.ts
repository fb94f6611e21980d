/**
 * Tests of `rejoin`: the logout link that brings users of a moved meeting to its new server, and what it refuses.
 *
 * @module
 */
import assert from "node:assert/strict";
import { holder, PUBLIC_URL, setup, sign, tag } from "../../tests/harness.ts";

/** Join through the app as a browser would; returns the redirect and the cookie it set. */
async function browserJoin(h: Awaited<ReturnType<typeof setup>>, query: string) {
  const res = await h.app.request(`/bigbluebutton/api/join?${sign("join", query)}`);
  await res.body?.cancel();
  const cookie = res.headers.get("set-cookie")!.split(";")[0];
  return { res, cookie, setCookie: res.headers.get("set-cookie")! };
}

/** The logoutURL a fake server received when the meeting was created there, as a path bbblb serves. */
function logoutPathAt(fake: { meetings: Map<string, { createParams: URLSearchParams }> }, meetingID: string) {
  const url = fake.meetings.get(meetingID)!.createParams.get("logoutURL")!;
  assert.ok(url.startsWith(PUBLIC_URL));
  return url.slice(PUBLIC_URL.length);
}

Deno.test("rejoin: after a move, the browser's cookie leads to a valid join on the new server, same name and role", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "rj-room", name: "Rejoin", logoutURL: "https://lms.example.org/done" });
  const from = holder(h.fakes, "rj-room");
  const created = await h.text("getMeetingInfo", { meetingID: "rj-room" });
  const { res, setCookie, cookie } = await browserJoin(
    h,
    `meetingID=rj-room&fullName=Zo%C3%AB%20Teacher&role=MODERATOR&userID=u-7&createTime=${
      tag(created, "createTime")
    }`,
  );
  assert.equal(res.status, 302);
  assert.match(setCookie, /HttpOnly/i);
  assert.match(setCookie, /SameSite=Lax/i);
  assert.match(setCookie, /Path=\/bigbluebutton\/api\/rejoin/);
  assert.doesNotMatch(setCookie, /Secure/); // bbblb's URL is http here
  assert.doesNotMatch(decodeURIComponent(setCookie), /MODERATOR|Teacher|u-7/); // sealed, not readable
  const logoutPath = logoutPathAt(h.fakes[from], "rj-room");

  assert.equal(tag(await h.text("move", { meetingID: "rj-room" }), "returncode"), "SUCCESS");
  const back = await h.app.request(logoutPath, { headers: { cookie } });
  assert.equal(back.status, 302);
  const location = back.headers.get("location")!;
  const to = h.fakes[1 - from];
  assert.ok(location.startsWith(`${to.apiUrl}join?`), location);
  const params = new URL(location).searchParams;
  assert.equal(params.get("fullName"), "Zoë Teacher");
  assert.equal(params.get("role"), "MODERATOR");
  assert.equal(params.get("userID"), "u-7");
  assert.equal(params.has("createTime"), false); // the old instance's createTime is not replayed
  const landed = await fetch(location, { redirect: "manual" });
  await landed.body?.cancel();
  assert.equal(landed.status, 302); // the new server accepted the join
  assert.deepEqual(to.meetings.get("rj-room")!.participants.map((p) => [p.fullName, p.role]), [[
    "Zoë Teacher",
    "MODERATOR",
  ]]);
});

Deno.test("rejoin without the cookie after a move shows a page, never a redirect", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "nc-room", name: "No Cookie" });
  const logoutPath = logoutPathAt(h.fakes[holder(h.fakes, "nc-room")], "nc-room");
  await h.text("move", { meetingID: "nc-room" });
  const res = await h.app.request(logoutPath);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("location"), null);
  assert.match(await res.text(), /join it again/);
});

Deno.test("rejoin refuses tampered links, other meetings' cookies and foreign targets", async () => {
  await using h = await setup({ servers: 2 });
  await h.text("create", { meetingID: "own-room", name: "Own", logoutURL: "https://lms.example.org/own" });
  await h.text("create", { meetingID: "other-room", name: "Other" });
  const own = logoutPathAt(h.fakes[holder(h.fakes, "own-room")], "own-room");
  const { cookie: otherCookie } = await browserJoin(
    h,
    "meetingID=other-room&fullName=Mallory&role=MODERATOR",
  );
  await h.text("move", { meetingID: "own-room" });

  // a tampered checksum, a tampered id, a missing checksum: 403, no redirect
  for (
    const path of [
      own.replace(/checksum=(.)/, (_, c: string) => `checksum=${c === "0" ? "1" : "0"}`),
      own.replace("meetingID=", "meetingID=0"),
      own.split("&")[0],
    ]
  ) {
    const res = await h.app.request(path);
    assert.equal(res.status, 403, path);
    assert.equal(res.headers.get("location"), null);
  }
  // another meeting's cookie, even renamed to this meeting's cookie name, does not open a join
  const [, value] = otherCookie.split("=");
  const ownName = (await import("./rejoin.ts")).cookieName("", "own-room");
  const res = await h.app.request(own, { headers: { cookie: `${otherCookie}; ${ownName}=${value}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("location"), null);
  // extra parameters cannot steer the redirect
  const steered = await h.app.request(`${own}&logoutURL=https://evil.example`);
  assert.equal(steered.headers.get("location"), null);
});

Deno.test("rejoin of a meeting that did not move goes to the creator's logoutURL, else the configured one, else a page", async () => {
  await using h = await setup({ servers: 1, logoutUrl: "https://portal.example.org/" });
  await h.text("create", {
    meetingID: "lo-a",
    name: "Room A",
    logoutURL: "https://lms.example.org/course/7",
  });
  await h.text("create", { meetingID: "lo-b", name: "Room B" });
  await h.text("create", { meetingID: "lo-c", name: "Room C", logoutURL: "javascript:alert(1)" });
  const go = async (id: string) =>
    (await h.app.request(logoutPathAt(h.fakes[0], id))).headers.get("location");
  assert.equal(await go("lo-a"), "https://lms.example.org/course/7");
  assert.equal(await go("lo-b"), "https://portal.example.org/");
  assert.equal(await go("lo-c"), "https://portal.example.org/"); // never a javascript: URL
  await using bare = await setup({ servers: 1 });
  await bare.text("create", { meetingID: "lo-d", name: "Room D" });
  const res = await bare.app.request(logoutPathAt(bare.fakes[0], "lo-d"));
  assert.equal(res.status, 200);
  assert.match(await res.text(), /has ended/);
});
