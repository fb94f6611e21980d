/**
 * The chaos run's round clock counts the getMeetings calls that reach each fake server, except those made while
 * a client's getMeetings is in flight (bbblb asks every server for it, which is not a poll round).
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeBbb } from "../fake_bbb.ts";
import { RoundClock } from "./rounds.ts";

async function call(fake: FakeBbb, name: string): Promise<void> {
  await (await fetch(`${fake.apiUrl}${name}?meetingID=x&checksum=x`)).body?.cancel();
}

Deno.test("rounds are the getMeetings calls a server received, client listings left out", async () => {
  const fakes = [await FakeBbb.start(), await FakeBbb.start()];
  try {
    const clock = new RoundClock(fakes, 0);
    const start = clock.mark();
    await call(fakes[0], "getMeetings");
    await call(fakes[0], "getMeetings");
    await call(fakes[1], "getMeetings");
    await call(fakes[1], "isMeetingRunning");
    clock.update();
    assert.equal(clock.roundsSince(start, 1), 2);
    assert.equal(clock.roundsSince(start, 2), 1);
    assert.ok(clock.elapsed(start, [1], 2));
    assert.ok(!clock.elapsed(start, [1, 2], 2));

    const done = clock.clientListing();
    await call(fakes[0], "getMeetings");
    done();
    clock.update();
    assert.equal(clock.roundsSince(start, 1), 2);
  } finally {
    for (const f of fakes) await f.close();
  }
});

Deno.test("a deadline of k rounds is never shorter than k poll intervals", () => {
  const clock = new RoundClock([], 1000);
  assert.ok(!clock.elapsed(clock.mark(), [], 1));
  assert.ok(clock.elapsed({ at: Date.now() - 1000, rounds: [0] }, [], 1));
});
