import assert from "node:assert/strict";
import { fanOut, MeetingLists } from "./fan_out.ts";

const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

Deno.test("a fan-out returns answers and errors in order, and marks what has not answered in time late", async () => {
  const timers: Promise<unknown>[] = [];
  const results = await fanOut([1, 2, 3], { limit: 10, timeoutMs: 100 }, (n) => {
    if (n === 2) return Promise.reject(new Error("refused"));
    if (n === 3) {
      const slow = after(400, 3);
      timers.push(slow);
      return slow;
    }
    return Promise.resolve(n * 10);
  });
  assert.deepEqual(results[0], { status: "fulfilled", value: 10 });
  assert.equal(results[1].status, "rejected");
  assert.deepEqual(results[2], { status: "late" });
  await Promise.all(timers);
  // the late answer arriving afterwards does not change what the caller got
  assert.deepEqual(results[2], { status: "late" });
});

Deno.test("a fan-out waits only as long as its slowest answer when all come in time", async () => {
  const results = await fanOut([5, 1], { limit: 1, timeoutMs: 5_000 }, (ms) => after(ms, ms));
  assert.deepEqual(results.map((r) => r.status === "fulfilled" && r.value), [5, 1]);
});

Deno.test("items queued behind the concurrency limit when the fan-out timeout passes are late", async () => {
  const slow = after(300, "slow");
  const results = await fanOut(["slow", "queued"], { limit: 1, timeoutMs: 50 }, (s) => {
    return s === "slow" ? slow : Promise.resolve(s);
  });
  assert.deepEqual(results.map((r) => r.status), ["late", "late"]);
  await slow;
});

Deno.test("meeting lists keep each server's latest answer and forget removed servers", () => {
  const lists = new MeetingLists();
  lists.remember(1, "<a/>", 5);
  lists.remember(1, "<b/>", 6);
  lists.remember(2, "<c/>", 7);
  assert.deepEqual(lists.get(1), { text: "<b/>", at: 6 });
  lists.keepOnly(new Set([1]));
  assert.equal(lists.get(2), undefined);
  assert.equal(lists.get(1)?.text, "<b/>");
});
