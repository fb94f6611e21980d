import assert from "node:assert/strict";
import { jwtVerify, SignJWT } from "jose";
import { holder, PUBLIC_URL, SECRET, setup } from "../../tests/harness.ts";

/** A front-end that records the callbacks it receives. */
function frontEnd() {
  const received: { method: string; url: string; headers: Headers; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    received.push({ method: req.method, url: req.url, headers: req.headers, body: await req.text() });
    return new Response("ok");
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    received,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("callback URLs go to BBB as signed relay links; the client's own are kept", async () => {
  await using h = await setup({ servers: 1 });
  await h.text("create", {
    meetingID: "cb-room",
    name: "Callbacks",
    "meta_bbb-recording-ready-url": "https://lms.example.org/ready",
    "meta_analytics-callback-url": "https://lms.example.org/analytics",
    meta_endCallbackUrl: "https://lms.example.org/end",
  });
  const sent = h.fakes[0].meetings.get("cb-room")!.createParams;
  for (const name of ["meta_bbb-recording-ready-url", "meta_analytics-callback-url", "meta_endCallbackUrl"]) {
    assert.ok(sent.get(name)!.startsWith(`${PUBLIC_URL}/bigbluebutton/callback/`), name);
    assert.doesNotMatch(sent.get(name)!, /lms\.example\.org/);
  }
});

async function createWithCallbacks(h: Awaited<ReturnType<typeof setup>>, base: string) {
  await h.text("create", {
    meetingID: "cb-room",
    name: "Callbacks",
    "meta_bbb-recording-ready-url": `${base}/ready?course=7`,
    "meta_analytics-callback-url": `${base}/analytics`,
    meta_endCallbackUrl: `${base}/end?x=1`,
  });
  const fake = h.fakes[holder(h.fakes, "cb-room")];
  const sent = fake.meetings.get("cb-room")!.createParams;
  const path = (name: string) => sent.get(name)!.slice(PUBLIC_URL.length);
  return { fake, path };
}

Deno.test("a recording-ready callback is verified with the node's secret and re-signed with the API secret", async () => {
  await using h = await setup({ servers: 2 });
  await using fe = frontEnd();
  const { fake, path } = await createWithCallbacks(h, fe.base);
  const token = await new SignJWT({ meeting_id: "cb-room", record_id: "rec-1" }).setProtectedHeader({
    alg: "HS256",
  })
    .sign(enc(fake.secret));
  const res = await h.app.request(path("meta_bbb-recording-ready-url"), {
    method: "POST",
    body: new URLSearchParams({ signed_parameters: token }),
  });
  assert.equal(res.status, 200);
  assert.equal(fe.received.length, 1);
  const got = fe.received[0];
  assert.equal(got.method, "POST");
  assert.equal(new URL(got.url).pathname + new URL(got.url).search, "/ready?course=7");
  const forwarded = new URLSearchParams(got.body).get("signed_parameters")!;
  const { payload } = await jwtVerify(forwarded, enc(SECRET)); // the front-end can verify it with its secret
  assert.deepEqual([payload.meeting_id, payload.record_id], ["cb-room", "rec-1"]);
  await assert.rejects(() => jwtVerify(forwarded, enc(fake.secret)));
  // the recording is now known to be on that server: deleting it asks no other server
  const others = h.fakes.filter((f) => f !== fake);
  const before = others.map((f) => f.requests.length);
  fake.addRecording("cb-room", { recordID: "rec-1" });
  await h.text("deleteRecordings", { recordID: "rec-1" });
  assert.deepEqual(others.map((f) => f.requests.length), before);
});

Deno.test("a callback signed with another secret, or to a tampered link, is refused and never relayed", async () => {
  await using h = await setup({ servers: 1 });
  await using fe = frontEnd();
  const { path } = await createWithCallbacks(h, fe.base);
  const forged = await new SignJWT({ meeting_id: "cb-room", record_id: "x" }).setProtectedHeader({
    alg: "HS256",
  })
    .sign(enc("not-the-node-secret"));
  const res = await h.app.request(path("meta_bbb-recording-ready-url"), {
    method: "POST",
    body: new URLSearchParams({ signed_parameters: forged }),
  });
  assert.equal(res.status, 403);
  const tampered = path("meta_bbb-recording-ready-url").replace(/.$/, (c) => (c === "0" ? "1" : "0"));
  assert.equal((await h.app.request(tampered, { method: "POST" })).status, 403);
  const otherParam = path("meta_bbb-recording-ready-url").replace(
    "meta_bbb-recording-ready-url",
    "logoutURL",
  );
  assert.equal((await h.app.request(otherParam, { method: "POST" })).status, 403);
  assert.equal(fe.received.length, 0);
});

Deno.test("the analytics callback is verified and passed on with a Bearer token of the API secret", async () => {
  await using h = await setup({ servers: 1 });
  await using fe = frontEnd();
  const { fake, path } = await createWithCallbacks(h, fe.base);
  const bearer = await new SignJWT({}).setProtectedHeader({ alg: "HS512" }).setExpirationTime("1h")
    .sign(enc(fake.secret));
  const data = JSON.stringify({ version: "1.0", meeting_id: "cb-room", data: { duration: 60 } });
  const res = await h.app.request(path("meta_analytics-callback-url"), {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: data,
  });
  assert.equal(res.status, 200);
  const got = fe.received[0];
  assert.equal(got.body, data);
  assert.equal(got.headers.get("user-agent"), "BigBlueButton Analytics Callback");
  await jwtVerify(got.headers.get("authorization")!.replace("Bearer ", ""), enc(SECRET));
  const unsigned = await h.app.request(path("meta_analytics-callback-url"), { method: "POST", body: data });
  assert.equal(unsigned.status, 403);
});

Deno.test("the end callback is passed on with BBB's parameters", async () => {
  await using h = await setup({ servers: 1 });
  await using fe = frontEnd();
  const { path } = await createWithCallbacks(h, fe.base);
  const res = await h.app.request(`${path("meta_endCallbackUrl")}?meetingID=cb-room&recordingmarks=false`);
  assert.equal(res.status, 200);
  const url = new URL(fe.received[0].url);
  assert.equal(url.pathname, "/end");
  assert.deepEqual([...url.searchParams], [["x", "1"], ["meetingID", "cb-room"], [
    "recordingmarks",
    "false",
  ]]);
});

Deno.test("a front-end that cannot be reached is a 502, so BBB sees the failure", async () => {
  await using h = await setup({ servers: 1 });
  const { path } = await createWithCallbacks(h, "http://127.0.0.1:9");
  const res = await h.app.request(`${path("meta_endCallbackUrl")}?meetingID=cb-room`);
  assert.equal(res.status, 502);
});
