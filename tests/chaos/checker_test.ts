/**
 * The chaos checker judges what it should and nothing else: each rule fires on a state that breaks it, only
 * after its allowance in rounds, not while a fault or an operation excuses the state, and once per meeting.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeBbb } from "../fake_bbb.ts";
import { ActivityLog } from "./activity.ts";
import {
  Checker,
  CLAIM_ROUNDS,
  type Clock,
  copiesOf,
  type Copy,
  HEAL_ROUNDS,
  KNOW_ROUNDS,
  type View,
  type ViewMeeting,
} from "./checker.ts";
import type { Mark } from "./rounds.ts";

/** A clock whose rounds advance when the test says; marks lie in the past, so touches precede every check. */
class ManualClock implements Clock {
  rounds = [0, 0, 0, 0];
  #at = Date.now() - 3_600_000;

  mark(): Mark {
    return { at: this.#at++, rounds: [...this.rounds] };
  }

  elapsed(mark: Mark, servers: Iterable<number>, k: number): boolean {
    for (const s of servers) if (this.rounds[s] - mark.rounds[s] < k) return false;
    return true;
  }

  /** `n` rounds reach every server. */
  tick(n = 1): void {
    this.rounds = this.rounds.map((r) => r + n);
  }
}

function setup() {
  const clock = new ManualClock();
  const activity = new ActivityLog(() => clock.mark(), [1, 2, 3]);
  const checker = new Checker(clock, activity, { missedRounds: 2, claimLimitMs: 26_000 });
  return { clock, activity, checker };
}

const copy = (server: number, ref: string, participants: number, byBbblb = true): Copy => ({
  server,
  ref,
  internalMeetingID: `${ref}@${server}`,
  participants,
  byBbblb,
});

const record = (ref: string, serverId: number, extra: Partial<ViewMeeting> = {}): ViewMeeting => ({
  ref,
  serverId,
  status: "running",
  loadMilli: 1000,
  claimedAt: Date.now(),
  historyId: `h-${ref}-${serverId}`,
  ...extra,
});

/** A view with these records and load sums that match them. */
function viewOf(meetings: ViewMeeting[]): View {
  const loads = new Map([[1, 0], [2, 0], [3, 0]]);
  for (const m of meetings) loads.set(m.serverId, loads.get(m.serverId)! + m.loadMilli);
  return { meetings, loads };
}

Deno.test("two copies created by bbblb that both have participants are a violation at once", () => {
  const { checker } = setup();
  const found = checker.checkTruth([copy(1, "law/room-1", 3), copy(2, "law/room-1", 1)]);
  assert.equal(found.length, 1);
  assert.equal(found[0].rule, "1-split-with-participants");
  assert.deepEqual(found[0].servers, [1, 2]);
});

Deno.test("the same meetingID of two tenants, or a copy the harness created itself, is no split with participants", () => {
  const { checker } = setup();
  assert.deepEqual(checker.checkTruth([copy(1, "law/room-1", 3), copy(2, "med/room-1", 2)]), []);
  assert.deepEqual(checker.checkTruth([copy(1, "/room-2", 3), copy(2, "/room-2", 2, false)]), []);
});

Deno.test("copies of a meeting that a move is ending are no split while the move is in flight", () => {
  const { activity, checker } = setup();
  const end = activity.begin("/room-1", { moving: true });
  assert.deepEqual(checker.checkTruth([copy(1, "/room-1", 3), copy(2, "/room-1", 1)]), []);
  end();
  assert.equal(
    checker.checkTruth([copy(1, "/room-1", 3), copy(2, "/room-1", 1)])[0].rule,
    "1-split-with-participants",
  );
});

Deno.test("a healable split is a violation after HEAL_ROUNDS rounds, and any change restarts the count", () => {
  const { clock, checker } = setup();
  const split = [copy(1, "/room-1", 2), copy(2, "/room-1", 0)];
  assert.deepEqual(checker.checkTruth(split), []);
  clock.tick(HEAL_ROUNDS - 1);
  assert.deepEqual(checker.checkTruth(split), []);
  // The empty copy gets a participant and loses it again: the count starts over.
  assert.deepEqual(checker.checkTruth([copy(1, "/room-1", 2), copy(2, "/room-1", 1, false)]), []);
  assert.deepEqual(checker.checkTruth(split), []);
  clock.tick(HEAL_ROUNDS - 1);
  assert.deepEqual(checker.checkTruth(split), []);
  clock.tick(1);
  const found = checker.checkTruth(split);
  assert.equal(found.length, 1);
  assert.equal(found[0].rule, "1-split-unhealed");
  // Healed: nothing more.
  assert.deepEqual(checker.checkTruth([copy(1, "/room-1", 2)]), []);
});

Deno.test("a split is not judged while a server holding a copy has a fault, nor counted from before it ended", () => {
  const { clock, activity, checker } = setup();
  const split = [copy(1, "/room-1", 0), copy(3, "/room-1", 0)];
  const endFault = activity.fault(3);
  checker.checkTruth(split);
  clock.tick(HEAL_ROUNDS + 5);
  assert.deepEqual(checker.checkTruth(split), []);
  endFault();
  assert.deepEqual(checker.checkTruth(split), []);
  clock.tick(HEAL_ROUNDS - 1);
  assert.deepEqual(checker.checkTruth(split), []);
  clock.tick(1);
  assert.equal(checker.checkTruth(split)[0]?.rule, "1-split-unhealed");
});

Deno.test("a split where two copies keep participants cannot be healed and is not held against the healing rule", () => {
  const { clock, checker } = setup();
  const split = [copy(1, "/room-1", 2, false), copy(2, "/room-1", 1)];
  checker.checkTruth(split);
  clock.tick(HEAL_ROUNDS * 3);
  assert.deepEqual(checker.checkTruth(split), []);
});

Deno.test("a running copy bbblb has no record of is a violation after KNOW_ROUNDS rounds, not while touched", async () => {
  const { clock, activity, checker } = setup();
  const copies = [copy(2, "med/room-4", 1, false)];
  checker.checkTruth(copies);
  const view = async () => await Promise.resolve(viewOf([]));
  clock.tick(KNOW_ROUNDS - 1);
  assert.deepEqual(await checker.checkView(() => copies, view), []);
  const end = activity.begin("med/room-4");
  clock.tick(5);
  assert.deepEqual(await checker.checkView(() => copies, view), []);
  end();
  clock.tick(KNOW_ROUNDS - 1);
  assert.deepEqual(await checker.checkView(() => copies, view), []);
  clock.tick(1);
  const found = await checker.checkView(() => copies, view);
  assert.equal(found.length, 1);
  assert.equal(found[0].rule, "3-unknown-meeting");
  // Known (any record of the meeting): fine.
  const known = async () => await Promise.resolve(viewOf([record("med/room-4", 1)]));
  const again = new Checker(clock, activity, { missedRounds: 2, claimLimitMs: 26_000 });
  again.checkTruth(copies);
  clock.tick(KNOW_ROUNDS);
  assert.deepEqual(
    (await again.checkView(() => copies, known)).filter((v) => v.rule === "3-unknown-meeting"),
    [],
  );
});

Deno.test("a copy that vanished while bbblb's view was read is not judged", async () => {
  const { clock, checker } = setup();
  const copies = [copy(1, "/room-1", 0)];
  checker.checkTruth(copies);
  clock.tick(KNOW_ROUNDS + 1);
  let reads = 0;
  const truth = () => reads++ === 0 ? copies : [];
  assert.deepEqual(await checker.checkView(truth, async () => await Promise.resolve(viewOf([]))), []);
});

Deno.test("a record of a meeting its server does not hold is a ghost after missed rounds and two more", async () => {
  const { clock, activity, checker } = setup();
  const view = async () => await Promise.resolve(viewOf([record("/room-2", 1)]));
  assert.deepEqual(await checker.checkView(() => [], view), []);
  clock.tick(3);
  assert.deepEqual(await checker.checkView(() => [], view), []);
  const endFault = activity.fault(1);
  clock.tick(10);
  assert.deepEqual(await checker.checkView(() => [], view), []);
  endFault();
  clock.tick(3);
  assert.deepEqual(await checker.checkView(() => [], view), []);
  clock.tick(1);
  const found = await checker.checkView(() => [], view);
  assert.equal(found.length, 1);
  assert.equal(found[0].rule, "3-ghost-meeting");
  // A record whose server holds the meeting is fine.
  assert.deepEqual(
    (await checker.checkView(
      () => [copy(1, "/room-3", 0)],
      async () => await Promise.resolve(viewOf([record("/room-3", 1)])),
    ))
      .filter((v) => v.rule === "3-ghost-meeting"),
    [],
  );
});

Deno.test("a load sum that differs from the declared load of its meetings is a violation", async () => {
  const { checker } = setup();
  const view = viewOf([record("/room-1", 2, { loadMilli: 2000 })]);
  view.loads.set(2, 1000);
  const found = await checker.checkView(
    () => [copy(2, "/room-1", 0)],
    async () => await Promise.resolve(view),
  );
  assert.deepEqual(found.map((v) => [v.rule, v.servers]), [["3-load-sum", [2]]]);
});

Deno.test("a claim older than a create can take, on a clean server, is stuck after CLAIM_ROUNDS rounds", async () => {
  const { clock, checker } = setup();
  const young = record("/room-1", 3, { status: "creating" });
  const old = record("/room-2", 3, { status: "creating", claimedAt: Date.now() - 30_000 });
  const view = async () => await Promise.resolve(viewOf([young, old]));
  assert.deepEqual(await checker.checkView(() => [], view), []);
  clock.tick(CLAIM_ROUNDS - 1);
  assert.deepEqual(await checker.checkView(() => [], view), []);
  clock.tick(1);
  const found = await checker.checkView(() => [], view);
  assert.deepEqual(found.map((v) => [v.rule, v.ref]), [["3-stuck-claim", "/room-2"]]);
});

Deno.test("each violation is reported once per rule and meeting", () => {
  const { checker } = setup();
  const split = [copy(1, "/room-1", 3), copy(2, "/room-1", 1)];
  assert.equal(checker.checkTruth(split).length, 1);
  assert.equal(checker.checkTruth(split).length, 0);
  assert.equal(checker.violations.length, 1);
});

Deno.test("a copy counts as created by bbblb when its logoutURL is bbblb's rejoin link", async () => {
  const fake = await FakeBbb.start();
  try {
    fake.addMeeting("law~room-1", {
      createParams: new URLSearchParams({
        meetingID: "law~room-1",
        name: "Room",
        logoutURL: "http://lb.test/bigbluebutton/api/rejoin?meetingID=0190&checksum=ab",
      }),
    });
    fake.addMeeting("room-1");
    fake.addMeeting("gone", { ended: true });
    const copies = copiesOf([fake], ["law"]);
    assert.deepEqual(
      copies.map((c) => [c.ref, c.byBbblb]),
      [["law/room-1", true], ["/room-1", false]],
    );
  } finally {
    await fake.close();
  }
});
