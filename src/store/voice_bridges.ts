/**
 * Dial-in PIN reservations in the store: `["voice_bridge", pin]` -> {@linkcode VoiceBridgeRecord}. A claim
 * reserves its PIN in the same atomic operation as the meeting (`claimMeeting`), `removeMeeting` releases it, and
 * the poller brings them in line with the meetings (`cluster/voice_bridge.ts`). The rules live there.
 *
 * @module
 */
import { commitWithRetry } from "./kv.ts";
import { keys } from "./keys.ts";

/** Who holds a PIN. */
export interface VoiceBridgeRecord {
  tenant: string;
  meetingID: string;
  /**
   * Two or more running meetings have this PIN (meetings bbblb adopted from servers that each gave it): no call
   * is routed with it until only one is left.
   */
  shared?: boolean;
}

/**
 * The first holder among `pins` (in their order), or `null` when all are free. Reads 10 keys per `getMany`.
 */
export async function voiceBridgesHeld(
  kv: Deno.Kv,
  pins: readonly string[],
): Promise<VoiceBridgeRecord | null> {
  for (let i = 0; i < pins.length; i += 10) {
    const entries = await kv.getMany<VoiceBridgeRecord[]>(
      pins.slice(i, i + 10).map((p) => keys.voiceBridge(p)),
    );
    const held = entries.find((e) => e.value !== null);
    if (held) return held.value;
  }
  return null;
}

/** The reservation of one PIN (with its versionstamp). */
export function getVoiceBridge(kv: Deno.Kv, pin: string): Promise<Deno.KvEntryMaybe<VoiceBridgeRecord>> {
  return kv.get<VoiceBridgeRecord>(keys.voiceBridge(pin));
}

/** Every reservation, by PIN. */
export async function listVoiceBridges(kv: Deno.Kv): Promise<Map<string, Deno.KvEntry<VoiceBridgeRecord>>> {
  const out = new Map<string, Deno.KvEntry<VoiceBridgeRecord>>();
  for await (const e of kv.list<VoiceBridgeRecord>({ prefix: keys.voiceBridges() })) {
    out.set(e.key[1] as string, e);
  }
  return out;
}

/** One reservation change: `value` `null` deletes; each applies only if the versionstamp is still the one read. */
export interface VoiceBridgeChange {
  pin: string;
  /** As read; `null`: the PIN must still be free. */
  versionstamp: string | null;
  value: VoiceBridgeRecord | null;
}

/**
 * Apply reservation changes, each on its own (one that lost a race with a claim or a removal is skipped: the next
 * pass sees the new state).
 *
 * @returns how many were applied
 */
export async function markVoiceBridges(kv: Deno.Kv, changes: readonly VoiceBridgeChange[]): Promise<number> {
  let applied = 0;
  for (const c of changes) {
    const key = keys.voiceBridge(c.pin);
    const res = await commitWithRetry(() => {
      const op = kv.atomic().check({ key, versionstamp: c.versionstamp });
      return c.value === null ? op.delete(key) : op.set(key, c.value);
    });
    if (res.ok) applied++;
  }
  return applied;
}
