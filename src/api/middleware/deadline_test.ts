import assert from "node:assert/strict";
import { BbbError } from "../../bbb/errors.ts";
import { withinDeadline } from "./deadline.ts";

const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

Deno.test("work done before its deadline gives its answer, and its error unchanged", async () => {
  assert.equal(await withinDeadline(1000, () => after(10, "answer")), "answer");
  await assert.rejects(withinDeadline(1000, () => Promise.reject(new Error("own"))), /own/);
});

Deno.test("work past its deadline is serverUnavailable, not before the deadline, and its late failure is dropped", async () => {
  const started = Date.now();
  let finish!: (e: Error) => void;
  const work = new Promise<string>((_, reject) => finish = reject);
  const error = await withinDeadline(200, () => work).catch((e) => e);
  assert.ok(error instanceof BbbError);
  assert.equal(error.messageKey, "serverUnavailable");
  assert.match(error.message, /within 0\.2 s/);
  assert.ok(Date.now() - started >= 200);
  finish(new Error("late")); // must not surface as an unhandled rejection
  await after(10, null);
});

Deno.test("many requests sharing a deadline tick each get their own outcome", async () => {
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => withinDeadline(150, () => after(i % 2 === 0 ? 5 : 400, i))),
  );
  results.forEach((r, i) => {
    if (i % 2 === 0) assert.deepEqual(r, { status: "fulfilled", value: i });
    else assert.equal(r.status === "rejected" && (r.reason as BbbError).messageKey, "serverUnavailable");
  });
  await after(300, null); // the slow ones finish before the test ends
});
