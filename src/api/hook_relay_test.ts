import assert from "node:assert/strict";
import { eventsFor } from "./hook_relay.ts";

const post = (events: unknown[]) =>
  new URLSearchParams({ domain: "bbb1", event: JSON.stringify(events), timestamp: "1" }).toString();
const meetingEvent = (external: string) => ({
  data: { id: "meeting-created", attributes: { meeting: { "external-meeting-id": external } } },
});

Deno.test("a default-tenant hook never sees events of tenants' meetings", () => {
  const tenants = new Set(["law"]);
  const body = post([meetingEvent("room-1"), meetingEvent("law~room-1")]);
  const out = JSON.parse(new URLSearchParams(eventsFor(body, tenants, "")!).get("event")!);
  assert.deepEqual(
    out.map((e: ReturnType<typeof meetingEvent>) => e.data.attributes.meeting["external-meeting-id"]),
    [
      "room-1",
    ],
  );
  assert.equal(eventsFor(post([meetingEvent("law~room-2")]), tenants, ""), null);
});

Deno.test("a post with nothing to filter passes byte for byte, and odd posts pass unchanged", () => {
  const body = post([meetingEvent("room-1"), meetingEvent("room-2")]);
  assert.equal(eventsFor(body, new Set(["law"]), ""), body);
  const noMeeting = post([{ data: { id: "rap-archive-started" } }]);
  assert.equal(eventsFor(noMeeting, new Set(), ""), noMeeting);
  assert.equal(eventsFor("not=bbb", new Set(), ""), "not=bbb");
  assert.equal(eventsFor("event=%7Bbroken", new Set(), ""), "event=%7Bbroken");
});

Deno.test("a tenant's events reach its hooks with the meeting IDs it knows", () => {
  const out = eventsFor(post([meetingEvent("law~room-1"), meetingEvent("room-1")]), new Set(["law"]), "law")!;
  const events = JSON.parse(new URLSearchParams(out).get("event")!);
  assert.equal(events.length, 1);
  assert.equal(events[0].data.attributes.meeting["external-meeting-id"], "room-1");
});

Deno.test("with tenants, events whose meeting cannot be told apart (raw, breakout rooms) are not passed on", () => {
  const tenants = new Set(["law"]);
  const breakout = meetingEvent(`${"a".repeat(40)}-1700000000123-1`);
  const raw = { envelope: { name: "UserJoinedMeetingEvtMsg" }, core: { header: { meetingId: "x" } } };
  assert.equal(eventsFor(post([breakout, raw]), tenants, ""), null);
  // without tenants nothing is lost
  const body = post([breakout, raw]);
  assert.equal(eventsFor(body, new Set(), ""), body);
});
