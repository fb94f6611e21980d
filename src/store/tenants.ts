/**
 * Tenants in the store: front-ends (faculties, customers) that share one cluster, each with its own secrets,
 * optional host name, parameter rules and limits. `["tenant", name]` holds a tenant; `["tenant_default"]` holds
 * the default tenant's own rules, limits and default tag (its secrets stay `BBBLB_SECRET`, never stored here).
 *
 * @module
 */
import { DEFAULT_TENANT, keys } from "./keys.ts";
import { commitWithRetry, writeBatched } from "./kv.ts";

/** One create or join parameter rule (Scalelite's `DEFAULT_`/`OVERRIDE_` parameters). */
export interface ParamRule {
  /**
   * `force` sets or replaces the value; `default` sets it when absent; `remove` deletes the parameter; `cap`
   * lowers a number above `value` (or 0, negative, or not a number: BBB's "unlimited") to `value`, and sets it
   * when absent.
   */
  op: "force" | "default" | "remove" | "cap";
  /** The parameter name (`meta_` names match without case, as BBB lower-cases them). */
  name: string;
  /** The value (`force`, `default`) or the largest number (`cap`); absent for `remove`. */
  value?: string;
}

/** A tenant's policy (stored in its record; absent fields: the defaults, which allow everything as before). */
export interface TenantPolicy {
  /** Create and join parameters that are refused (`meta_` names without case, others exactly). */
  blocked?: string[];
  /**
   * Hosts (`example.org`, or `*.example.org` for its subdomains) that URLs BBB or browsers fetch may point to;
   * absent or `null`: any host.
   */
  urlHosts?: string[] | null;
  /**
   * Hosts bbblb may call back (recording-ready, analytics and end callbacks, hook events); absent or `null`: any
   * host except bbblb's own listen address and public URL and the KV Connect host (`cluster/policy.ts`).
   */
  callbackHosts?: string[] | null;
}

/** A tenant (or, under `["tenant_default"]`, the default tenant's own settings with `secrets` empty). */
export interface TenantRecord {
  /** `[a-z0-9][a-z0-9-]{0,31}`; `default` for the default tenant's record. */
  name: string;
  /** Accepted API secrets (several during a rotation); the first signs what bbblb relays to this tenant. */
  secrets: string[];
  /** The host name its front-end calls bbblb by (lower case, no port), or `null`. */
  host: string | null;
  /** The server tag its creates get as `meta_server-tag` when they carry none, or `null`. */
  defaultTag: string | null;
  /** Rules applied to its create parameters, in order. */
  create: ParamRule[];
  /** Rules applied to its join parameters, in order. */
  join: ParamRule[];
  /** Largest number of its meetings running at once, or `null` for no limit. */
  maxMeetings: number | null;
  /** Largest number of participants in its meetings together (as of the last poll), or `null`. */
  maxParticipants: number | null;
  /**
   * Blocked parameters and URL and callback allow-lists (`cluster/policy.ts`); the default tenant's apply to every
   * request. Absent (and in records written before it existed): nothing blocked, any host.
   */
  policy?: TenantPolicy;
  /**
   * Whether its recordings in central custody are protected (each playback link carries a grant); `null` or
   * absent: as `--protected-recordings` says.
   */
  protectedRecordings?: boolean | null;
  /** Days after its start when a recording of this tenant is deleted (retention); `null` or absent: kept. */
  deleteRecordingsAfterDays?: number | null;
}

/** The name that stands for the default tenant on the command line. */
export const DEFAULT_TENANT_NAME = "default";

/** Whether `name` is a valid tenant name (`[a-z0-9][a-z0-9-]{0,31}`). `default` is valid but reserved. */
export function isTenantName(name: string): boolean {
  return /^[a-z0-9][a-z0-9-]{0,31}$/.test(name);
}

/** A tenant record with nothing set. */
export function emptyTenant(name: string): TenantRecord {
  return {
    name,
    secrets: [],
    host: null,
    defaultTag: null,
    create: [],
    join: [],
    maxMeetings: null,
    maxParticipants: null,
  };
}

function keyOf(name: string): Deno.KvKey {
  return name === DEFAULT_TENANT_NAME ? keys.tenantDefault() : keys.tenant(name);
}

/** A tenant by name (`default`: the default tenant's record, or an empty one), or `null`. */
export async function getTenant(kv: Deno.Kv, name: string): Promise<TenantRecord | null> {
  const value = (await kv.get<TenantRecord>(keyOf(name))).value;
  if (name === DEFAULT_TENANT_NAME) return { ...emptyTenant(name), ...value, secrets: [], host: null };
  return value;
}

/** Every tenant (not the default tenant's record), by name. */
export async function listTenants(kv: Deno.Kv): Promise<TenantRecord[]> {
  return (await Array.fromAsync(kv.list<TenantRecord>({ prefix: keys.tenants() }))).map((e) => e.value);
}

/** The default tenant's own record (rules, limits, default tag), or `null` when none was ever set. */
export async function getDefaultTenantRecord(kv: Deno.Kv): Promise<TenantRecord | null> {
  return (await kv.get<TenantRecord>(keys.tenantDefault())).value;
}

/**
 * Add a tenant.
 *
 * @returns `false` when a tenant of that name exists
 */
export async function addTenant(kv: Deno.Kv, tenant: TenantRecord): Promise<boolean> {
  const key = keys.tenant(tenant.name);
  const res = await commitWithRetry(() => kv.atomic().check({ key, versionstamp: null }).set(key, tenant));
  return res.ok;
}

/**
 * Change a tenant (or, for `default`, the default tenant's record) with `change`, retried on a concurrent change.
 *
 * @returns the new record, or `null` when there is no such tenant
 */
export async function updateTenant(
  kv: Deno.Kv,
  name: string,
  change: (t: TenantRecord) => TenantRecord,
): Promise<TenantRecord | null> {
  const key = keyOf(name);
  for (;;) {
    const entry = await kv.get<TenantRecord>(key);
    if (!entry.value && name !== DEFAULT_TENANT_NAME) return null;
    const next = change({ ...emptyTenant(name), ...entry.value });
    if ((await commitWithRetry(() => kv.atomic().check(entry).set(key, next))).ok) return next;
  }
}

/** Remove a tenant. @returns whether it existed */
export async function removeTenant(kv: Deno.Kv, name: string): Promise<boolean> {
  const entry = await kv.get<TenantRecord>(keys.tenant(name));
  if (!entry.value) return false;
  return (await commitWithRetry(() => kv.atomic().check(entry).delete(entry.key))).ok;
}

/** How many meetings of a tenant (by its slot: `""` for the default tenant) are running or being created. */
export async function countTenantMeetings(kv: Deno.Kv, tenant: string): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: keys.meetings(tenant) })) n++;
  return n;
}

/** The store slot of a tenant name: `default` is {@linkcode DEFAULT_TENANT}. */
export function tenantSlot(name: string): string {
  return name === DEFAULT_TENANT_NAME ? DEFAULT_TENANT : name;
}

/** Participants in a tenant's meetings at the last poll round (0 when unknown). */
export async function tenantParticipants(kv: Deno.Kv, tenant: string): Promise<number> {
  return (await kv.get<number>(keys.tenantParticipants(tenant))).value ?? 0;
}

/** Save each tenant's participants from a poll round (one read per join that checks a participant limit). */
export async function writeTenantParticipants(kv: Deno.Kv, counts: Map<string, number>): Promise<void> {
  await writeBatched(kv, [...counts].map(([t, n]) => ({ key: keys.tenantParticipants(t), value: n })));
}
