/**
 * Tests of the app's request pipeline: the index, checksums, bodies and their limits, parameters every call
 * needs, and the log line of each call.
 *
 * @module
 */
import assert from "node:assert/strict";
import { holder, SECRET, setup, sign, tag } from "../../tests/harness.ts";
import { createLogger } from "../log.ts";

Deno.test("the index answers the version document without a checksum", async () => {
  await using h = await setup({ servers: 0 });
  for (const path of ["/bigbluebutton/api", "/bigbluebutton/api/"]) {
    const res = await h.app.request(path);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.equal(tag(body, "returncode"), "SUCCESS");
    assert.equal(tag(body, "version"), "2.0");
  }
});

Deno.test("an unknown call is FAILED unsupportedRequest with HTTP 200", async () => {
  await using h = await setup({ servers: 0 });
  const res = await h.app.request("/bigbluebutton/api/getDefaultConfigXML?checksum=x");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/xml;charset=utf-8");
  assert.equal(tag(await res.text(), "messageKey"), "unsupportedRequest");
});

Deno.test("a wrong or missing checksum is FAILED checksumError", async () => {
  await using h = await setup({ servers: 1 });
  const wrong =
    await (await h.app.request(`/bigbluebutton/api/create?${sign("create", "meetingID=aa", "nope")}`))
      .text();
  assert.equal(tag(wrong, "messageKey"), "checksumError");
  const missing = await (await h.app.request("/bigbluebutton/api/create?meetingID=aa&name=xx")).text();
  assert.equal(tag(missing, "messageKey"), "checksumError");
  assert.equal(h.fakes[0].requests.length, 0);
});

Deno.test("calls without a meetingID are FAILED missingParamMeetingID", async () => {
  await using h = await setup({ servers: 1 });
  for (const call of ["create", "join", "end", "getMeetingInfo", "isMeetingRunning"]) {
    assert.equal(tag(await h.text(call, { name: "xx" }), "messageKey"), "missingParamMeetingID", call);
    assert.equal(tag(await h.text(call, { meetingID: "" }), "messageKey"), "missingParamMeetingID", call);
  }
});

Deno.test("a form body is accepted only when the checksum covers it", async () => {
  await using h = await setup({ servers: 1 });
  const post = async (url: string, body: string, type = "application/x-www-form-urlencoded") =>
    await (await h.app.request(url, { method: "POST", headers: { "content-type": type }, body })).text();
  const signedBody = sign("create", "meetingID=ff&name=Form");
  assert.equal(tag(await post("/bigbluebutton/api/create", signedBody), "returncode"), "SUCCESS");
  // unsigned parameters in a body, with the checksum in the query
  const unsigned = await post(`/bigbluebutton/api/create?${sign("create", "")}`, "meetingID=gg&name=xx");
  assert.equal(tag(unsigned, "messageKey"), "checksumError");
  // parameters split between query and body
  const split = await post(`/bigbluebutton/api/create?${sign("create", "meetingID=hh")}`, "name=xx");
  assert.equal(tag(split, "messageKey"), "checksumError");
  // a body that is not what its content type says
  const notForm = await post("/bigbluebutton/api/create", "\u00ff\u00fe garbage", "application/json");
  assert.equal(tag(notForm, "messageKey"), "unsupportedContentType");
  assert.equal(h.fakes[0].meetings.size, 1);
});

Deno.test("a body over the limit is FAILED requestTooLarge", async () => {
  await using h = await setup({ servers: 1, maxBodyBytes: 1000 });
  const res = await h.app.request(`/bigbluebutton/api/create?${sign("create", "meetingID=big&name=BB")}`, {
    method: "POST",
    headers: { "content-type": "application/xml" },
    body: "<modules>" + "x".repeat(5000) + "</modules>",
  });
  assert.equal(tag(await res.text(), "messageKey"), "requestTooLarge");
  assert.equal(h.fakes[0].requests.length, 0);
});

Deno.test("an invalid percent-escape is FAILED validationError, never a 500", async () => {
  await using h = await setup({ servers: 1 });
  const res = await h.app.request(
    `/bigbluebutton/api/create?${sign("create", "meetingID=%E0%A4%A&name=xx")}`,
  );
  assert.equal(res.status, 200);
  assert.equal(tag(await res.text(), "messageKey"), "validationError");
});

Deno.test("a meetingID over 256 characters is FAILED validationError", async () => {
  await using h = await setup({ servers: 1 });
  const body = await h.text("getMeetingInfo", { meetingID: "m".repeat(300) });
  assert.equal(tag(body, "messageKey"), "validationError");
});

Deno.test("a checksum over a raw ' is accepted when the client's HTTP stack sent it as %27", async () => {
  await using h = await setup({ servers: 1 });
  const signed = sign("create", "meetingID=O'Brien&name=Quote");
  const sent = signed.replace("'", "%27");
  assert.equal(
    tag(await (await h.app.request(`/bigbluebutton/api/create?${sent}`)).text(), "returncode"),
    "SUCCESS",
  );
  assert.equal(h.fakes[0].meetings.has("O'Brien"), true);
  // it is the same parameter set: any other change still fails
  const tampered = sent.replace("Quote", "Quotx");
  assert.equal(
    tag(await (await h.app.request(`/bigbluebutton/api/create?${tampered}`)).text(), "messageKey"),
    "checksumError",
  );
});

Deno.test("a large XML body is not read before the checksum is verified", async () => {
  await using h = await setup({ servers: 1 });
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      if (pulled > 1000) return controller.close();
      controller.enqueue(new Uint8Array(64 * 1024));
    },
  });
  const res = await h.app.request(
    "/bigbluebutton/api/create?meetingID=big-room&name=Big&checksum=" + "0".repeat(40),
    {
      method: "POST",
      headers: { "content-type": "application/xml" },
      body,
      // @ts-ignore: a streaming request body needs duplex in fetch's RequestInit
      duplex: "half",
    },
  );
  assert.equal(tag(await res.text(), "messageKey"), "checksumError");
  assert.ok(pulled <= 2, `read ${pulled} chunks of an unauthenticated body`);
  await body.cancel().catch(() => {});
});

Deno.test("each API call logs one line with call, meetingID, server, returncode and duration", async () => {
  const lines: string[] = [];
  await using h = await setup({
    servers: 2,
    log: createLogger({ format: "json", write: (l) => lines.push(l) }),
  });
  await h.text("create", { meetingID: "logged-room", name: "Logged" });
  await h.text("getMeetingInfo", { meetingID: "nobody-room" });
  const api = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "api");
  assert.equal(api.length, 2);
  assert.equal(api[0].call, "create");
  assert.equal(api[0].meetingID, "logged-room");
  assert.equal(api[0].server, holder(h.fakes, "logged-room") + 1);
  assert.equal(api[0].returncode, "SUCCESS");
  assert.equal(typeof api[0].ms, "number");
  assert.equal(api[1].messageKey, "notFound");
  assert.equal(lines.some((l) => l.includes(SECRET) || l.includes("checksum=")), false);
});
