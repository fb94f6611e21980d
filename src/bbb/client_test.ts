import assert from "node:assert/strict";
import { BackendError, callBackend, normalizeApiUrl, withoutQueries } from "./client.ts";

Deno.test("a failed call's message never quotes the signed URL (its checksum could be replayed)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now: connection refused
  const backend = {
    apiUrl: `http://127.0.0.1:${port}/bigbluebutton/api/`,
    secret: "s3cret-value",
    checksum: "sha1" as const,
  };
  const error = await callBackend(backend, "getMeetings", "", { timeoutMs: 2000 }).catch((e) => e);
  assert.ok(error instanceof BackendError);
  assert.equal(error.kind, "refused"); // the server never saw the request
  assert.doesNotMatch(error.message, /checksum|\?/);
  assert.doesNotMatch(error.message, /s3cret-value/);
});

Deno.test("an answer that breaks off is `unreachable`, not `refused`: the server may have acted on it", async () => {
  // Announces more bytes than it sends, then closes: the client fails while reading the body.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response(ReadableStream.from([new TextEncoder().encode("<response>")]), {
        headers: { "content-length": "4096" },
      }),
  );
  try {
    const backend = {
      apiUrl: `http://127.0.0.1:${server.addr.port}/bigbluebutton/api/`,
      secret: "s3cret-value",
      checksum: "sha1" as const,
    };
    const error = await callBackend(backend, "create", "meetingID=x", { timeoutMs: 2000 }).catch((e) => e);
    assert.ok(error instanceof BackendError);
    assert.equal(error.kind, "unreachable");
  } finally {
    await server.shutdown();
  }
});

Deno.test("withoutQueries() strips query strings and checksums from quoted URLs", () => {
  assert.equal(
    withoutQueries(
      "error sending request for url (http://h:1/bigbluebutton/api/getMeetings?checksum=abc123): refused",
    ),
    "error sending request for url (http://h:1/bigbluebutton/api/getMeetings): refused",
  );
  assert.equal(withoutQueries("odd checksum=deadbeef here"), "odd checksum=… here");
});

Deno.test("normalizeApiUrl() accepts what bbb-conf --secret prints, with or without api/ and slashes", () => {
  for (
    const raw of [
      "https://b.example/bigbluebutton/",
      "https://b.example/bigbluebutton",
      "https://b.example/bigbluebutton/api",
      "https://b.example/bigbluebutton/api/",
      "https://b.example",
    ]
  ) {
    assert.equal(normalizeApiUrl(raw), "https://b.example/bigbluebutton/api/", raw);
  }
  assert.throws(() => normalizeApiUrl("ftp://b.example/"));
  assert.throws(() => normalizeApiUrl("https://user:pw@b.example/bigbluebutton/"));
});
