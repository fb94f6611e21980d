/**
 * Tests of how tenants stay apart on shared BBB servers: scoped meetingIDs round trip, another tenant's IDs are
 * never taken for yours, the tenant metadata cannot be claimed by a client, BBB's answers are unscoped for their
 * tenant only, and the parameter rules (force, default, remove, cap) on parameters and on raw query strings.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Params } from "../bbb/query.ts";
import {
  applyRules,
  applyRulesToQuery,
  backendMeetingID,
  ownerOf,
  scopeCreateParams,
  TENANT_META_PARAM,
  tenantOfBackendID,
  unscopeXml,
} from "./tenancy.ts";

const TENANTS = new Set(["law", "lawyer", "med"]);

Deno.test("a tenant's meetingID reaches BBB scoped and is read back as the same tenant's same meetingID", () => {
  for (const tenant of ["law", "lawyer", "med"]) {
    for (const id of ["room 1", "a~b", "law~x", "~", "é/ü?&="]) {
      const backend = backendMeetingID(tenant, id);
      assert.equal(backend, `${tenant}~${id}`);
      assert.deepEqual(tenantOfBackendID(backend, TENANTS), { tenant, meetingID: id }, backend);
    }
  }
});

Deno.test("the default tenant's meetingIDs reach BBB unchanged and stay the default tenant's", () => {
  for (const id of ["room 1", "a~b", "~x", "unknown~x"]) {
    assert.equal(backendMeetingID("", id), id);
    assert.deepEqual(tenantOfBackendID(id, TENANTS), { tenant: "", meetingID: id }, id);
  }
});

Deno.test("a scoped ID is never mapped to another tenant: not to one whose name is a prefix, nor a removed one", () => {
  assert.equal(tenantOfBackendID("lawyer~room", TENANTS).tenant, "lawyer");
  assert.equal(tenantOfBackendID("law~room", TENANTS).tenant, "law");
  assert.equal(tenantOfBackendID("la~room", TENANTS).tenant, "");
  assert.equal(tenantOfBackendID("Law~room", TENANTS).tenant, "", "tenant names are case-sensitive");
  // The same ID after the tenant was removed belongs to nobody but the default tenant's listing.
  assert.deepEqual(tenantOfBackendID("med~room", new Set(["law"])), { tenant: "", meetingID: "med~room" });
});

Deno.test("scopeCreateParams() scopes the meetingID and names the tenant; a client's own tenant metadata is dropped", () => {
  const params: Params = [
    ["name", "Room"],
    ["meetingID", "room-1"],
    ["meta_bbblb-tenant", "med"],
    ["META_BBBLB-TENANT", "med"],
    ["meta_bbb-origin", "Moodle"],
  ];
  assert.deepEqual(scopeCreateParams("law", params), [
    ["name", "Room"],
    ["meetingID", "law~room-1"],
    ["meta_bbb-origin", "Moodle"],
    [TENANT_META_PARAM, "law"],
  ]);
  // The default tenant cannot claim a tenant's metadata either; the rest is left as it came.
  assert.deepEqual(scopeCreateParams("", params), [
    ["name", "Room"],
    ["meetingID", "room-1"],
    ["meta_bbb-origin", "Moodle"],
  ]);
  assert.deepEqual(params[2], ["meta_bbblb-tenant", "med"], "the input is not changed");
});

Deno.test("unscopeXml() gives a tenant its own meetingIDs back, plain and in CDATA, and nothing else changes", () => {
  const xml = "<response><meetings>" +
    "<meeting><meetingID>law~room-1</meetingID><meetingName>law~room-1</meetingName></meeting>" +
    "<meeting><meetingID><![CDATA[law~room 2]]></meetingID>" +
    "<parentMeetingID>law~room-1</parentMeetingID></meeting>" +
    "<meeting><meetingID>law~law~x</meetingID></meeting>" +
    "</meetings></response>";
  assert.equal(
    unscopeXml(xml, "law"),
    "<response><meetings>" +
      "<meeting><meetingID>room-1</meetingID><meetingName>law~room-1</meetingName></meeting>" +
      "<meeting><meetingID><![CDATA[room 2]]></meetingID>" +
      "<parentMeetingID>room-1</parentMeetingID></meeting>" +
      "<meeting><meetingID>law~x</meetingID></meeting>" +
      "</meetings></response>",
  );
});

Deno.test("unscopeXml() never turns another tenant's or the default tenant's meetingID into one of yours", () => {
  const xml = "<response><meetingID>lawyer~room</meetingID><meetingID>med~room</meetingID>" +
    "<meetingID>room</meetingID><meetingID>xlaw~room</meetingID></response>";
  assert.equal(unscopeXml(xml, "law"), xml);
  assert.equal(unscopeXml("<meetingID>law~room</meetingID>", ""), "<meetingID>law~room</meetingID>");
});

Deno.test("ownerOf() trusts the tenant metadata first, then the scope of the meetingID, else the default tenant", () => {
  assert.equal(ownerOf("law~room", "med", TENANTS), "med", "the metadata wins over the scope");
  assert.equal(ownerOf("room", " law ", TENANTS), "law");
  assert.equal(
    ownerOf("room", "gone", TENANTS),
    "gone",
    "a removed tenant's recordings stay out of default's",
  );
  assert.equal(ownerOf("law~room", undefined, TENANTS), "law");
  assert.equal(ownerOf("law~room", "  ", TENANTS), "law");
  assert.equal(ownerOf("room", undefined, TENANTS), "");
  assert.equal(ownerOf(undefined, undefined, TENANTS), "");
});

Deno.test("applyRules() forces, defaults, removes and caps parameters in the order of the rules", () => {
  const params: Params = [["record", "true"], ["name", "A"], ["record", "false"]];
  assert.deepEqual(applyRules(params, [{ op: "force", name: "record", value: "false" }]), [
    ["record", "false"],
    ["name", "A"],
    ["record", "false"],
  ]);
  assert.deepEqual(applyRules(params, [{ op: "force", name: "welcome", value: "Hi" }]).at(-1), [
    "welcome",
    "Hi",
  ]);
  assert.deepEqual(applyRules(params, [{ op: "default", name: "name", value: "B" }]), params);
  assert.deepEqual(applyRules(params, [{ op: "default", name: "duration", value: "60" }]).at(-1), [
    "duration",
    "60",
  ]);
  assert.deepEqual(applyRules(params, [{ op: "remove", name: "record" }]), [["name", "A"]]);
  // Later rules see what earlier ones left.
  assert.deepEqual(
    applyRules([], [{ op: "default", name: "x", value: "1" }, { op: "force", name: "x", value: "2" }]),
    [["x", "2"]],
  );
  assert.deepEqual(
    params,
    [["record", "true"], ["name", "A"], ["record", "false"]],
    "the input is not changed",
  );
});

Deno.test("meta_ rule names match whatever the case, other names only exactly", () => {
  const params: Params = [["meta_Course", "7"], ["Record", "true"]];
  assert.deepEqual(applyRules(params, [{ op: "remove", name: "META_course" }]), [["Record", "true"]]);
  assert.deepEqual(applyRules(params, [{ op: "remove", name: "record" }]), params);
});

Deno.test("a cap keeps a number within it and replaces anything BBB would read as more, or as unlimited", () => {
  const cap = (value: string) =>
    applyRules([["maxParticipants", value]], [{ op: "cap", name: "maxParticipants", value: "50" }])[0][1];
  for (const kept of ["1", "30", "50", " 20 "]) assert.equal(cap(kept), kept.trim(), kept);
  for (const capped of ["51", "0", "-5", "", "abc", "1e1", "0x10", "10.0", "+10", "9999999999"]) {
    assert.equal(cap(capped), "50", capped);
  }
  assert.deepEqual(applyRules([], [{ op: "cap", name: "maxParticipants", value: "50" }]), [
    ["maxParticipants", "50"],
  ]);
});

Deno.test("applyRulesToQuery() keeps every pair no rule changes byte for byte, as the client encoded it", () => {
  const query = "fullName=O%27Neil+Smith&meetingID=room%201&role=VIEWER&meta_X=a%2Bb";
  assert.equal(applyRulesToQuery(query, []), query);
  assert.equal(
    applyRulesToQuery(query, [{ op: "force", name: "role", value: "MODERATOR" }]),
    "fullName=O%27Neil+Smith&meetingID=room%201&role=MODERATOR&meta_X=a%2Bb",
  );
  assert.equal(
    applyRulesToQuery(query, [{ op: "remove", name: "meta_x" }, {
      op: "default",
      name: "userdata-x",
      value: "a b",
    }]),
    "fullName=O%27Neil+Smith&meetingID=room%201&role=VIEWER&userdata-x=a%20b",
  );
  assert.equal(applyRulesToQuery(query, [{ op: "default", name: "fullName", value: "X" }]), query);
  assert.equal(applyRulesToQuery("", [{ op: "force", name: "a", value: "1" }]), "a=1");
});

Deno.test("applyRulesToQuery() caps like applyRules() and leaves a value within the cap as it was sent", () => {
  const rules = [{ op: "cap" as const, name: "maxParticipants", value: "50" }];
  assert.equal(applyRulesToQuery("maxParticipants=%330&x=1", rules), "maxParticipants=%330&x=1");
  assert.equal(applyRulesToQuery("maxParticipants=0&x=1", rules), "maxParticipants=50&x=1");
  assert.equal(applyRulesToQuery("maxParticipants=1e3", rules), "maxParticipants=50");
  assert.equal(applyRulesToQuery("x=1", rules), "x=1&maxParticipants=50");
  // A pair that does not decode is matched by its raw name and kept.
  assert.equal(applyRulesToQuery("bad=%E0%A4%A&x=1", [{ op: "remove", name: "x" }]), "bad=%E0%A4%A");
});

Deno.test("the rules give the same parameters on a query as on parsed parameters", () => {
  const rules = [
    { op: "force" as const, name: "record", value: "false" },
    { op: "default" as const, name: "duration", value: "240" },
    { op: "remove" as const, name: "meta_secret" },
    { op: "cap" as const, name: "maxParticipants", value: "25" },
  ];
  const params: Params = [["record", "true"], ["meta_Secret", "x"], ["maxParticipants", "100"], [
    "name",
    "A b",
  ]];
  const query = new URLSearchParams(params).toString();
  assert.deepEqual([...new URLSearchParams(applyRulesToQuery(query, rules))], applyRules(params, rules));
});
