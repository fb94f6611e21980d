/**
 * A fleet of fake BBB servers in one process, for the benchmarks in `bench/run.ts` (so the fakes run on their own
 * event loop, not on the benchmark driver's or bbblb's).
 *
 * `deno run -A bench/_fleet.ts --count N [--meetings M] [--hang K]` starts `N` fakes on free loopback ports, each
 * holding `M` running meetings named `s<i>-m<j>` (one participant each), the first `K` of them hanging on every
 * API call. It prints one JSON line `[{ "port": 1234, "secret": "…" }, …]` on stdout once all listen, and runs
 * until its standard input closes (the driver going away) or SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { FakeBbb } from "../tests/fake_bbb.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "10" },
    meetings: { type: "string", default: "0" },
    hang: { type: "string", default: "0" },
  },
});
const count = Number(values.count);
const meetings = Number(values.meetings);
const hang = Number(values.hang);
if (![count, meetings, hang].every((n) => Number.isInteger(n) && n >= 0)) {
  console.error("bench/_fleet.ts: --count, --meetings and --hang take non-negative integers");
  Deno.exit(2);
}

const fleet: FakeBbb[] = [];
for (let i = 0; i < count; i++) {
  const fake = await FakeBbb.start({ secret: `bench-fake-secret-${i}` });
  for (let m = 0; m < meetings; m++) {
    fake.addMeeting(`s${i}-m${m}`);
    fake.addParticipant(`s${i}-m${m}`);
  }
  if (i < hang) fake.mode = "hang";
  fleet.push(fake);
}
console.log(JSON.stringify(fleet.map((f) => ({ port: f.port, secret: f.secret }))));

const stop = async () => {
  await Promise.all(fleet.map((f) => f.close()));
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
// The driver holds our stdin open; when it exits (or crashes), stdin closes and the fleet goes away with it.
for await (const _ of Deno.stdin.readable) { /* keep reading until EOF */ }
await stop();
