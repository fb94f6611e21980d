/**
 * Webhooks registered through bbblb: kept in the store with bbblb's own ids and, per server, the id the
 * server's webhooks module gave the registration there.
 *
 * @module
 */
import { keys } from "./keys.ts";
import { commitWithRetry } from "./kv.ts";

/** A hook a front-end created through bbblb. */
export interface HookRecord {
  /** bbblb's id (increasing integers, as BBB's webhooks module gives them). */
  hookID: string;
  callbackURL: string;
  /** Only this meeting's events (external meetingID), or `null` for all. */
  meetingID: string | null;
  /** A comma list of event ids, or `null` for all. */
  eventID: string | null;
  getRaw: boolean;
  /** The hook's id on each server it is registered on, by server id. */
  registrations: Record<string, string>;
}

/** All hooks, ordered by id. */
export async function listHooks(kv: Deno.Kv): Promise<Deno.KvEntry<HookRecord>[]> {
  const all = await Array.fromAsync(kv.list<HookRecord>({ prefix: keys.hooks() }));
  return all.sort((a, b) => Number(a.value.hookID) - Number(b.value.hookID));
}

/**
 * Add a hook, or return the existing one with the same callbackURL (BBB's webhooks module is idempotent per
 * callbackURL).
 *
 * @returns the hook and whether it already existed
 */
export async function addHook(
  kv: Deno.Kv,
  hook: Omit<HookRecord, "hookID" | "registrations">,
): Promise<{ hook: HookRecord; existed: boolean }> {
  for (;;) {
    const all = await listHooks(kv);
    const same = all.find((h) => h.value.callbackURL === hook.callbackURL);
    if (same) return { hook: same.value, existed: true };
    const counter = await kv.get<number>(keys.setting("hook_counter"));
    const hookID = String((counter.value ?? 0) + 1);
    const record: HookRecord = { ...hook, hookID, registrations: {} };
    const res = await commitWithRetry(() =>
      kv.atomic().check(counter).set(counter.key, Number(hookID)).set(keys.hook(hookID), record)
    );
    if (res.ok) return { hook: record, existed: false };
  }
}

/** Record that a hook is registered on a server (or, with `null`, that it no longer is). */
export async function setRegistration(
  kv: Deno.Kv,
  hookID: string,
  serverId: number,
  remoteId: string | null,
) {
  for (let i = 0; i < 20; i++) {
    const entry = await kv.get<HookRecord>(keys.hook(hookID));
    if (!entry.value) return; // destroyed meanwhile
    const registrations = { ...entry.value.registrations };
    if (remoteId === null) delete registrations[serverId];
    else registrations[serverId] = remoteId;
    const res = await commitWithRetry(() =>
      kv.atomic().check(entry).set(entry.key, { ...entry.value!, registrations })
    );
    if (res.ok) return;
  }
}

/** Remove a hook; returns it, or `null` when there was none with that id. */
export async function removeHook(kv: Deno.Kv, hookID: string): Promise<HookRecord | null> {
  const entry = await kv.get<HookRecord>(keys.hook(hookID));
  if (!entry.value) return null;
  const res = await commitWithRetry(() => kv.atomic().check(entry).delete(entry.key));
  return res.ok ? entry.value : null;
}

/** A hook created through bbblb, or `null`. */
export async function getHook(kv: Deno.Kv, hookID: string): Promise<HookRecord | null> {
  return (await kv.get<HookRecord>(keys.hook(hookID))).value;
}
