/**
 * Tests of the tenants' participant sums a poll round writes and a join reads.
 *
 * @module
 */
import assert from "node:assert/strict";
import { tenantParticipants, writeTenantParticipants } from "./tenants.ts";

Deno.test("each tenant's participants written by a round are read back, and an unknown tenant has 0", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await writeTenantParticipants(kv, new Map([["acme", 12], ["", 3]]));
    assert.equal(await tenantParticipants(kv, "acme"), 12);
    assert.equal(await tenantParticipants(kv, ""), 3);
    assert.equal(await tenantParticipants(kv, "other"), 0);
    await writeTenantParticipants(kv, new Map([["acme", 0]]));
    assert.equal(await tenantParticipants(kv, "acme"), 0);
  } finally {
    kv.close();
  }
});
