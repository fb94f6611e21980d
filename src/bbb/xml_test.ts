import assert from "node:assert/strict";
import {
  childText,
  listNodes,
  meetingNodes,
  parseResponse,
  renderList,
  renderMeetings,
  renderResponse,
} from "./xml.ts";

Deno.test("parseResponse() keeps values as strings and repeating elements as arrays", () => {
  const r = parseResponse(
    "<response><returncode>SUCCESS</returncode><meetings><meeting><meetingID>00123</meetingID>" +
      "<running>true</running></meeting></meetings></response>",
  );
  assert.equal(r.meetings.meeting.length, 1);
  assert.equal(r.meetings.meeting[0].meetingID, "00123");
  assert.equal(r.meetings.meeting[0].running, "true");
});

Deno.test("parseResponse() throws on HTML and on garbage", () => {
  assert.throws(() => parseResponse("<html><body>502 Bad Gateway</body></html>"));
  assert.throws(() => parseResponse("not xml at all"));
  assert.throws(() => parseResponse(""));
});

Deno.test("renderResponse() escapes text and keeps element order", () => {
  assert.equal(
    renderResponse({ returncode: "FAILED", messageKey: "k", message: "a & b <c>" }),
    "<response><returncode>FAILED</returncode><messageKey>k</messageKey><message>a &amp; b &lt;c&gt;</message></response>",
  );
});

Deno.test("meetingNodes() and renderMeetings() pass <meeting> elements through whole", () => {
  const a = "<meeting><meetingName>A &amp; B</meetingName><meetingID>007</meetingID><metadata>" +
    "<x><![CDATA[a<b]]></x></metadata><attendees><attendee><userID>u1</userID></attendee></attendees></meeting>";
  const b = "<meeting><meetingID>room-2</meetingID><newElementOfBbb4>v</newElementOfBbb4></meeting>";
  const nodes = [
    ...meetingNodes(`<response><returncode>SUCCESS</returncode><meetings>${a}</meetings></response>`),
    ...meetingNodes(`<response><returncode>SUCCESS</returncode><meetings>\n${b}\n</meetings></response>`),
  ];
  assert.equal(nodes.length, 2);
  const merged = renderMeetings(nodes);
  assert.equal(merged, `<response><returncode>SUCCESS</returncode><meetings>${a}${b}</meetings></response>`);
  assert.deepEqual(meetingNodes("<response><returncode>SUCCESS</returncode><meetings/></response>"), []);
});

Deno.test("listNodes() and childText() read recordings, CDATA included, and renderList() writes them back", () => {
  const rec =
    "<recording><recordID>abc-1</recordID><startTime>100</startTime><metadata><gl-listed><![CDATA[true]]>" +
    "</gl-listed></metadata></recording>";
  const nodes = listNodes(
    `<response><returncode>SUCCESS</returncode><recordings>${rec}</recordings></response>`,
    "recordings",
    "recording",
  );
  assert.equal(nodes.length, 1);
  assert.equal(childText(nodes[0], "recordID"), "abc-1");
  assert.equal(childText(nodes[0], "startTime"), "100");
  assert.equal(childText(nodes[0], "missing"), undefined);
  assert.equal(
    renderList("recordings", nodes),
    `<response><returncode>SUCCESS</returncode><recordings>${rec}</recordings></response>`,
  );
});
