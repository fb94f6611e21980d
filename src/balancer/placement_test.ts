import assert from "node:assert/strict";
import { type Candidate, decidePlacement, parseBbbVersion, rankServers, versionTags } from "./placement.ts";
import { parseTagRequest } from "./tags.ts";

const server = (id: number, loadMilli: number, extra: Partial<Candidate> = {}): Candidate => ({
  id,
  weight: 1,
  state: "enabled",
  placeable: true,
  loadMilli,
  ...extra,
});

Deno.test("rankServers() puts the server with the lowest load per weight first", () => {
  const ranked = rankServers([server(1, 5000), server(2, 8000, { weight: 4 }), server(3, 3000)]);
  assert.deepEqual(ranked.map((s) => s.id), [2, 3, 1]); // 2000, 3000, 5000 per unit of weight
});

Deno.test("rankServers() counts the live load above the declared load", () => {
  const ranked = rankServers([server(1, 1000, { extraMilli: 299_000 }), server(2, 5000)]);
  assert.deepEqual(ranked.map((s) => s.id), [2, 1]);
});

Deno.test("rankServers() leaves out servers that are not enabled, offline or excluded", () => {
  const ranked = rankServers(
    [
      server(1, 0, { state: "disabled" }),
      server(2, 0, { state: "cordoned" }),
      server(3, 0, { state: "panic" }),
      server(4, 0, { placeable: false }),
      server(5, 9000),
      server(6, 0),
    ],
    new Set([6]),
  );
  assert.deepEqual(ranked.map((s) => s.id), [5]);
  assert.deepEqual(rankServers([server(1, 0, { state: "disabled" })]), []);
});

Deno.test("rankServers() breaks ties at random, so equal servers share a burst", () => {
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(rankServers([server(1, 0), server(2, 0), server(3, 0)])[0].id);
  assert.deepEqual([...seen].sort(), [1, 2, 3]);
  // with a fixed random source the order is deterministic
  const values = [0.9, 0.1, 0.5];
  let i = 0;
  assert.deepEqual(
    rankServers([server(1, 0), server(2, 0), server(3, 0)], new Set(), () => values[i++]).map((s) => s.id),
    [
      2,
      3,
      1,
    ],
  );
});

const none = { tags: [], required: false };
const tagged = (id: number, tags: string[], extra: Partial<Candidate> = {}) => ({
  ...server(id, 0, extra),
  tags,
});

Deno.test("decidePlacement() places on the best server that may take the meeting", () => {
  const d = decidePlacement([server(1, 5000), server(2, 1000), server(3, 0, { state: "cordoned" })], {
    tags: none,
    exclude: new Set(),
    failures: 0,
  });
  assert.equal(d.server?.id, 2);
});

Deno.test("decidePlacement() follows the server tags: wanted tag, else untagged, required tag or refusal", () => {
  const servers = [tagged(1, []), tagged(2, ["video"]), tagged(3, ["lecture"])];
  const place = (value: string | undefined) =>
    decidePlacement(servers, { tags: parseTagRequest(value), exclude: new Set(), failures: 0 });
  assert.equal(place("lecture").server?.id, 3);
  assert.equal(place(undefined).server?.id, 1, "untagged creates never land on tagged servers");
  assert.equal(place("missing").server?.id, 1, "an unknown optional tag falls back to untagged servers");
  assert.deepEqual(place("missing!").refusal, {
    messageKey: "serverTagUnavailable",
    message: "There is no available server with the required tag=missing.",
  });
});

Deno.test("decidePlacement() answers limitExceeded only when caps alone keep every usable server out", () => {
  const request = { tags: none, exclude: new Set<number>(), failures: 0 };
  assert.equal(
    decidePlacement([server(1, 0, { full: true }), server(2, 0, { full: true })], request).refusal
      ?.messageKey,
    "limitExceeded",
  );
  assert.equal(
    decidePlacement([server(1, 0, { full: true }), server(2, 0)], request).server?.id,
    2,
  );
  assert.equal(
    decidePlacement([server(1, 0, { state: "disabled" })], request).refusal?.messageKey,
    "serverUnavailable",
  );
  // After a failure the answer is serverUnavailable: the front-end should try again, not wait for a meeting to end.
  assert.equal(
    decidePlacement([server(1, 0, { full: true }), server(2, 0)], {
      ...request,
      exclude: new Set([2]),
      failures: 1,
    })
      .refusal?.messageKey,
    "serverUnavailable",
  );
});

Deno.test("decidePlacement() excludes failed servers and stops after maxFailures", () => {
  const servers = [server(1, 0), server(2, 1000), server(3, 2000), server(4, 3000)];
  assert.equal(decidePlacement(servers, { tags: none, exclude: new Set([1, 2]), failures: 2 }).server?.id, 3);
  const refusal = decidePlacement(servers, { tags: none, exclude: new Set([1, 2, 3]), failures: 3 }).refusal;
  assert.equal(refusal?.messageKey, "serverUnavailable");
  assert.match(refusal!.message, /the servers tried did not answer/);
  assert.equal(
    decidePlacement(servers, { tags: none, exclude: new Set([1, 2, 3]), failures: 3, maxFailures: 4 }).server
      ?.id,
    4,
  );
});

Deno.test("parseBbbVersion() reads revealed and operator-given versions and nothing else", () => {
  assert.deepEqual(parseBbbVersion("3.0.34"), { major: 3, minor: 0 });
  assert.deepEqual(parseBbbVersion("4.0.0-beta.5"), { major: 4, minor: 0 });
  assert.deepEqual(parseBbbVersion("2.7"), { major: 2, minor: 7 });
  for (const bad of ["", "3", "three", "3.x", "3.0 beta", undefined, null]) {
    assert.equal(parseBbbVersion(bad), null, String(bad));
  }
  assert.deepEqual(versionTags({ bbbVersion: "2.7.12" }), ["bbb-2", "bbb-2.7"]);
  assert.deepEqual(versionTags({ bbbVersion: null }), []);
});

Deno.test("decidePlacement() lets a create ask for a BBB version by its implicit tag", () => {
  const servers = [
    server(1, 0, { bbbVersion: "2.7.12" }),
    server(2, 5000, { bbbVersion: "3.0.34" }),
    server(3, 9000, { bbbVersion: "3.0.34" }),
  ];
  const place = (value: string | undefined) =>
    decidePlacement(servers, { tags: parseTagRequest(value), exclude: new Set(), failures: 0 });
  assert.equal(place("bbb-3").server?.id, 2);
  assert.equal(place("bbb-3.0!").server?.id, 2);
  assert.equal(place("bbb-2.7").server?.id, 1);
  assert.equal(place("bbb-4!").refusal?.messageKey, "serverTagUnavailable");
  assert.equal(place("bbb-4").server?.id, 1, "an optional version tag no server has falls back to the best");
});

Deno.test("implicit version tags never make a server count as tagged", () => {
  const servers = [
    server(1, 9000, { bbbVersion: "3.0.1" }),
    { ...server(2, 0, { bbbVersion: "3.0.1" }), tags: ["lecture"] },
  ];
  const untagged = decidePlacement(servers, { tags: none, exclude: new Set(), failures: 0 });
  assert.equal(untagged.server?.id, 1, "a server with only a version still takes untagged creates");
  const noneTag = decidePlacement(servers, {
    tags: parseTagRequest("none"),
    exclude: new Set(),
    failures: 0,
  });
  assert.equal(noneTag.server?.id, 1, "`none` matches a server whose only tags are implicit");
  const both = decidePlacement(servers, { tags: parseTagRequest("bbb-3"), exclude: new Set(), failures: 0 });
  assert.equal(both.server?.id, 2, "a version tag matches tagged servers of that version too");
});

Deno.test("decidePlacement() keeps a moved meeting on its BBB major when a server of it can take it", () => {
  const request = { tags: none, exclude: new Set([9]), failures: 0 };
  const servers = [
    server(1, 0, { bbbVersion: "4.0.0-beta.5" }),
    server(2, 7000, { bbbVersion: "3.0.30" }),
    server(3, 8000),
  ];
  assert.equal(decidePlacement(servers, { ...request, major: 3 }).server?.id, 2);
  assert.equal(decidePlacement(servers, { ...request, major: 4 }).server?.id, 1);
  assert.equal(
    decidePlacement([servers[0], servers[2]], { ...request, major: 3 }).server?.id,
    3,
    "a server of unknown version matches any major",
  );
  assert.equal(
    decidePlacement([servers[0]], { ...request, major: 3 }).server?.id,
    1,
    "when no server of the major can take it, another major does",
  );
  assert.equal(decidePlacement(servers, request).server?.id, 1, "without a major, load decides");
});
