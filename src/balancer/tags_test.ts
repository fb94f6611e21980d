import assert from "node:assert/strict";
import { filterByTags, parseTagRequest } from "./tags.ts";

const servers = [
  { id: 1, tags: [] },
  { id: 2, tags: ["lecture"] },
  { id: 3, tags: ["video", "lecture"] },
  { id: 4, tags: [] },
];
const ids = (r: { servers: { id: number }[] }) => r.servers.map((s) => s.id);

Deno.test("parseTagRequest() reads Scalelite's ;-separated list with an optional trailing !", () => {
  assert.deepEqual(parseTagRequest(undefined), { tags: [], required: false });
  assert.deepEqual(parseTagRequest("lecture"), { tags: ["lecture"], required: false });
  assert.deepEqual(parseTagRequest("a; b ;!"), { tags: ["a", "b"], required: true });
  assert.deepEqual(parseTagRequest("!"), { tags: [], required: false });
});

Deno.test("a tagged create uses the servers with a wanted tag, keeping their ranking", () => {
  assert.deepEqual(ids(filterByTags(servers, parseTagRequest("lecture"))), [2, 3]);
  assert.deepEqual(ids(filterByTags(servers, parseTagRequest("video;none"))), [1, 3, 4]);
});

Deno.test("without a match a create falls back to untagged servers, unless the tag is required", () => {
  assert.deepEqual(ids(filterByTags(servers, parseTagRequest("gpu"))), [1, 4]);
  assert.deepEqual(filterByTags(servers, parseTagRequest("gpu!")), { servers: [], unavailable: true });
});

Deno.test("a create without tags never lands on a tagged server", () => {
  assert.deepEqual(ids(filterByTags(servers, parseTagRequest(undefined))), [1, 4]);
  assert.deepEqual(ids(filterByTags([{ id: 9, tags: ["x"] }], parseTagRequest(undefined))), []);
});
