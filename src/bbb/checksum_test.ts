import assert from "node:assert/strict";
import {
  algorithmForLength,
  checksum,
  rawQueryOf,
  signQuery,
  splitChecksum,
  verifyChecksum,
} from "./checksum.ts";

// Test vectors from shared/reference/bbb-api.md §1.6 (BBB's documented example).
const SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b";
const QUERY = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444";
const VECTORS = {
  sha1: "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17",
  sha256: "da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e",
  sha384: "891ac633df39d0a1b4f8d597f3e190833216c4b29c4fb51ea3ca72757eeb958d6e7b49a845cf29f5c6019c7d29d029d1",
  sha512:
    "de73ad61d11a5c801b68d4bd6ec5248546085cefb0b25c85f3c46249ea93a3a4b120f92c0a8a58d7512cb77821884951a3b01245f3435dbbef49fff3cc3988b4",
} as const;

Deno.test("checksum() reproduces BBB's documented test vectors for all four algorithms", () => {
  for (const [algo, sum] of Object.entries(VECTORS)) {
    assert.equal(checksum(algo as keyof typeof VECTORS, "create", QUERY, SECRET), sum);
    assert.equal(algorithmForLength(sum.length), algo);
  }
});

Deno.test("verifyChecksum() accepts each algorithm, chosen by length, and upper-case hex", () => {
  for (const sum of Object.values(VECTORS)) {
    assert.equal(verifyChecksum("create", `${QUERY}&checksum=${sum}`, [SECRET]).ok, true);
    assert.equal(verifyChecksum("create", `${QUERY}&checksum=${sum.toUpperCase()}`, [SECRET]).ok, true);
  }
});

Deno.test("verifyChecksum() finds the checksum first, in the middle or last", () => {
  const sum = VECTORS.sha1;
  const [a, b] = [QUERY.slice(0, 17), QUERY.slice(18)]; // "name=Test+Meeting" | "meetingID=…"
  assert.equal(a, "name=Test+Meeting");
  for (const q of [`checksum=${sum}&${QUERY}`, `${a}&checksum=${sum}&${b}`, `${QUERY}&checksum=${sum}`]) {
    const r = verifyChecksum("create", q, [SECRET]);
    assert.equal(r.ok, true, q);
    assert.equal(r.ok && r.query, QUERY);
  }
});

Deno.test("verifyChecksum() refuses a wrong, missing, odd-length or non-hex checksum", () => {
  const wrong = VECTORS.sha1.replace(/^./, "0");
  assert.deepEqual(verifyChecksum("create", `${QUERY}&checksum=${wrong}`, [SECRET]), {
    ok: false,
    problem: "mismatch",
  });
  assert.deepEqual(verifyChecksum("create", QUERY, [SECRET]), { ok: false, problem: "missing" });
  assert.deepEqual(verifyChecksum("create", `${QUERY}&checksum=`, [SECRET]), {
    ok: false,
    problem: "missing",
  });
  assert.equal(verifyChecksum("create", `${QUERY}&checksum=${VECTORS.sha1}a`, [SECRET]).ok, false);
  assert.equal(verifyChecksum("create", `${QUERY}&checksum=${"z".repeat(40)}`, [SECRET]).ok, false);
  // the call name is part of what is signed
  assert.equal(verifyChecksum("join", `${QUERY}&checksum=${VECTORS.sha1}`, [SECRET]).ok, false);
});

Deno.test("verifyChecksum() accepts any of several secrets and says which one matched", () => {
  const r = verifyChecksum("create", `${QUERY}&checksum=${VECTORS.sha256}`, ["old-secret-1", SECRET]);
  assert.equal(r.ok && r.secret, SECRET);
  assert.equal(verifyChecksum("create", `${QUERY}&checksum=${VECTORS.sha256}`, []).ok, false);
});

Deno.test("verifyChecksum() honours the allowed algorithms", () => {
  const r = verifyChecksum("create", `${QUERY}&checksum=${VECTORS.sha1}`, [SECRET], ["sha256"]);
  assert.equal(r.ok, false);
});

Deno.test("splitChecksum() keeps the rest byte for byte, encoding included", () => {
  const raw = "fullName=J%C3%BCrgen+O%27Neil&meetingID=a%20b&checksum=abc&x=";
  assert.deepEqual(splitChecksum(raw), {
    query: "fullName=J%C3%BCrgen+O%27Neil&meetingID=a%20b&x=",
    checksum: "abc",
  });
});

Deno.test("rawQueryOf() returns the query exactly as sent", () => {
  assert.equal(rawQueryOf("http://h/bigbluebutton/api/join?a='b'&c=%20"), "a='b'&c=%20");
  assert.equal(rawQueryOf("http://h/bigbluebutton/api/getMeetings"), "");
});

Deno.test("signQuery() appends a checksum the receiving server can verify", () => {
  const q = signQuery("join", "meetingID=x&fullName=A+B", "s3cret-s3cret", "sha512");
  assert.equal(verifyChecksum("join", q, ["s3cret-s3cret"]).ok, true);
  assert.equal(
    signQuery("getMeetings", "", "k", "sha1"),
    `checksum=${checksum("sha1", "getMeetings", "", "k")}`,
  );
});
