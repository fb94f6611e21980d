/**
 * Rule 4 of the chaos run: an answer that shows a tenant another tenant's meeting is caught, by meetingID or by
 * the internalMeetingID BBB derives from the meetingID it ran; answers about the tenant's own meeting pass.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { isolationProblem } from "./isolation.ts";

const TENANTS = ["law", "med"];
const internal = (backendID: string) => `${createHash("sha1").update(backendID).digest("hex")}-1715262000456`;
const ok = (body: string) => ({
  status: 200,
  location: null,
  body: `<response><returncode>SUCCESS</returncode>${body}</response>`,
});

Deno.test("a join redirected to another tenant's meetingID is caught; one to the tenant's own passes", () => {
  const to = (id: string) => ({
    status: 302,
    location: `http://127.0.0.1:9/bigbluebutton/api/join?meetingID=${
      encodeURIComponent(id)
    }&fullName=A&checksum=x`,
    body: "",
  });
  assert.equal(isolationProblem("join", "law", "room-1", to("law~room-1"), TENANTS), null);
  assert.match(isolationProblem("join", "law", "room-1", to("med~room-1"), TENANTS)!, /med~room-1/);
  assert.match(isolationProblem("join", "", "room-1", to("law~room-1"), TENANTS)!, /law~room-1/);
  assert.equal(isolationProblem("join", "", "room-1", to("room-1"), TENANTS), null);
});

Deno.test("an answer carrying the internalMeetingID of another tenant's meeting is caught", () => {
  const info = (id: string) =>
    ok(`<meetingID>room-1</meetingID><internalMeetingID>${internal(id)}</internalMeetingID>`);
  assert.equal(isolationProblem("getMeetingInfo", "med", "room-1", info("med~room-1"), TENANTS), null);
  assert.match(isolationProblem("getMeetingInfo", "med", "room-1", info("law~room-1"), TENANTS)!, /another/);
  assert.match(isolationProblem("create", "", "room-1", info("med~room-1"), TENANTS)!, /another/);
  const scoped = ok(
    `<meetingID>med~room-1</meetingID><internalMeetingID>${internal("med~room-1")}</internalMeetingID>`,
  );
  assert.match(isolationProblem("getMeetingInfo", "med", "room-1", scoped, TENANTS)!, /meetingID med~room-1/);
});

Deno.test("getMeetings may list only the tenant's own meetings", () => {
  const list = (...ms: [string, string][]) =>
    ok(
      `<meetings>${
        ms.map(([id, backend]) =>
          `<meeting><meetingID>${id}</meetingID><internalMeetingID>${
            internal(backend)
          }</internalMeetingID></meeting>`
        ).join("")
      }</meetings>`,
    );
  const own = list(["room-1", "law~room-1"], ["room-2", "law~room-2"]);
  assert.equal(isolationProblem("getMeetings", "law", "", own, TENANTS), null);
  const mixed = list(["room-1", "law~room-1"], ["room-2", "med~room-2"]);
  assert.match(isolationProblem("getMeetings", "law", "", mixed, TENANTS)!, /room-2/);
  assert.match(
    isolationProblem("getMeetings", "", "", list(["law~room-1", "law~room-1"]), TENANTS)!,
    /default/,
  );
  assert.equal(isolationProblem("getMeetings", "", "", list(["room-1", "room-1"]), TENANTS), null);
});

Deno.test("the default tenant must not create a meetingID of a tenant's form", () => {
  assert.match(isolationProblem("foreign", "", "law~room-1", ok(""), TENANTS)!, /another tenant's form/);
  const refused = {
    status: 200,
    location: null,
    body: "<response><returncode>FAILED</returncode></response>",
  };
  assert.equal(isolationProblem("foreign", "", "law~room-1", refused, TENANTS), null);
});
