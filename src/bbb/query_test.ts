import assert from "node:assert/strict";
import { BbbError } from "./errors.ts";
import { encodeQuery, get, parseQuery, urlSafeQuery } from "./query.ts";

Deno.test("parseQuery() decodes + and %20 as spaces and UTF-8 escapes, keeping order and repeats", () => {
  const p = parseQuery("name=A+B&x=%CE%B1%20%E4%B8%AD%F0%9F%98%80&name=second&flag&empty=");
  assert.deepEqual(p, [["name", "A B"], ["x", "α 中😀"], ["name", "second"], ["flag", ""], ["empty", ""]]);
  assert.equal(get(p, "name"), "A B");
  assert.equal(get(p, "missing"), undefined);
});

Deno.test("parseQuery() refuses a malformed escape or invalid UTF-8 with validationError naming the parameter", () => {
  for (const raw of ["meetingID=%E0%A4%A", "meetingID=%zz", "meetingID=%C3%28"]) {
    assert.throws(() => parseQuery(raw), (e) =>
      e instanceof BbbError && e.messageKey === "validationError" &&
      e.message.includes("meetingID"));
  }
});

Deno.test("encodeQuery() round-trips through parseQuery() for special characters", () => {
  const params: [string, string][] = [["meetingID", "a&b=c+d 'e' (f)*!~%"], ["meta_x", "Ελληνικά 中文 🎉"]];
  assert.deepEqual(parseQuery(encodeQuery(params)), params);
});

Deno.test("urlSafeQuery() encodes exactly what fetch() would re-encode, and keeps the rest", () => {
  const raw = 'a=O\'Neil&b=x y&c="<>"&d=α&e=%27+()*!~-._&f=%e2%82%ac';
  const safe = urlSafeQuery(raw);
  assert.equal(safe, "a=O%27Neil&b=x%20y&c=%22%3C%3E%22&d=%CE%B1&e=%27+()*!~-._&f=%e2%82%ac");
  // the URL parser leaves the result alone, so a checksum over it survives fetch() and redirects
  assert.equal(new URL(`http://h/?${safe}`).search, `?${safe}`);
  assert.deepEqual(parseQuery(safe), parseQuery(raw));
});
