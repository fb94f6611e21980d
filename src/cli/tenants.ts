/**
 * Admin subcommands for tenants: `tenant add`, `tenant list`, `tenant remove`, `tenant set`. Thin: parse and
 * validate, call the store, print. Never prints a secret, except the one `tenant add` generates (once).
 *
 * @module
 */
import { describePolicy, policyChange, type PolicyOptions } from "./tenant_policy.ts";
import { listAllMeetings } from "../store/meetings.ts";
import { generateSecret, storedSecret } from "../store/settings.ts";
import {
  addTenant,
  countTenantMeetings,
  DEFAULT_TENANT_NAME,
  emptyTenant,
  getTenant,
  isTenantName,
  listTenants,
  type ParamRule,
  removeTenant,
  type TenantRecord,
  tenantSlot,
  updateTenant,
} from "../store/tenants.ts";
import { CliError } from "./errors.ts";

/** Shortest tenant secret. */
const MIN_SECRET = 8;

function usage(message: string): CliError {
  return new CliError(message, 2);
}

/** A tenant name as given, validated. @throws {CliError} exit 2 */
function nameOf(raw: string, allowDefault: boolean): string {
  if (!isTenantName(raw)) {
    throw usage(
      `"${raw}" is not a tenant name (a-z, 0-9 and -, starting with a letter or digit, at most 32)`,
    );
  }
  if (raw === DEFAULT_TENANT_NAME && !allowDefault) {
    throw usage(
      `"${DEFAULT_TENANT_NAME}" is reserved: it names the default tenant (the one of BBBLB_SECRET)`,
    );
  }
  return raw;
}

/** A secret as given (`-` reads one line of stdin), validated. @throws {CliError} exit 2 */
async function secretOf(raw: string, readStdin: () => Promise<string>): Promise<string> {
  const secret = (raw === "-" ? await readStdin() : raw).trim();
  if (secret.length < MIN_SECRET || /[\s,]/.test(secret)) {
    throw usage(`a tenant secret needs at least ${MIN_SECRET} characters and no spaces or commas`);
  }
  return secret;
}

/** A host name as a front-end calls bbblb (no scheme, port or path), lower-cased. @throws {CliError} exit 2 */
function hostOf(raw: string): string {
  const host = raw.trim().toLowerCase();
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(host)) {
    throw usage(`--host: "${raw}" is not a host name (give it without scheme, port or path)`);
  }
  return host;
}

/** A default tag in `meta_server-tag` form (`a;b`, optionally ending in `!`). @throws {CliError} exit 2 */
function tagOf(raw: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}(;[A-Za-z0-9._-]{1,64})*!?$/.test(raw)) {
    throw usage(
      `--default-tag: "${raw}" is not a tag list (tags of letters, digits, . _ -; ";"-separated; "!" last)`,
    );
  }
  return raw;
}

/** A limit: a whole number from 0, or `none`. @throws {CliError} exit 2 */
function limitOf(raw: string, flag: string): number | null {
  if (raw === "none") return null;
  if (!/^\d{1,9}$/.test(raw)) throw usage(`${flag}: "${raw}" is not a whole number or "none"`);
  return Number(raw);
}

/** `--protected-recordings`: `on`, `off`, or `inherit` (`null`: as `serve` says). @throws {CliError} exit 2 */
function protectionOf(raw: string): boolean | null {
  if (raw === "on" || raw === "off") return raw === "on";
  if (raw === "inherit") return null;
  throw usage(`--protected-recordings: "${raw}" is not on, off or inherit`);
}

/** Days (1 to 36500) or `none`. @throws {CliError} exit 2 */
function daysOf(raw: string, flag: string): number | null {
  if (raw === "none") return null;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1) {
    throw usage(`${flag}: "${raw}" is not a number of days (1 to 36500) or "none"`);
  }
  return Math.min(Number(raw), 36500);
}

/** Parameters no rule may touch: bbblb's own. */
const RULE_FORBIDDEN = new Set(["meetingid", "checksum", "meta_bbblb-tenant"]);

/** One rule from a flag value (`k=v`, `k`, or `k=N`). @throws {CliError} exit 2 */
export function ruleOf(op: ParamRule["op"], raw: string, flag: string): ParamRule {
  const eq = raw.indexOf("=");
  const name = op === "remove" ? raw : eq < 0 ? "" : raw.slice(0, eq);
  const value = op === "remove" ? undefined : eq < 0 ? undefined : raw.slice(eq + 1);
  if (!/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/.test(name)) {
    throw usage(
      `${flag}: "${raw}" is not ${op === "remove" ? "a parameter name" : "NAME=VALUE with a parameter name"}`,
    );
  }
  if (RULE_FORBIDDEN.has(name.toLowerCase())) throw usage(`${flag}: bbblb sets ${name} itself; no rule may`);
  if (op === "cap" && !/^\d{1,9}$/.test(value ?? "")) {
    throw usage(`${flag}: "${raw}" is not NAME=N (a number)`);
  }
  return value === undefined ? { op, name } : { op, name, value };
}

/** Other tenants' secrets and hosts, and the global secrets, so a new one never admits two tenants. */
async function checkUnique(
  kv: Deno.Kv,
  self: string,
  secrets: readonly string[],
  host: string | null,
  globalSecrets: readonly string[],
): Promise<void> {
  if (secrets.some((s) => globalSecrets.includes(s))) {
    throw new CliError("that secret is the global API secret (BBBLB_SECRET); give each tenant its own");
  }
  for (const t of await listTenants(kv)) {
    if (t.name === self) continue;
    if (secrets.some((s) => t.secrets.includes(s))) {
      throw new CliError(`that secret is already a secret of tenant ${t.name}; give each tenant its own`);
    }
    if (host !== null && t.host === host) throw new CliError(`tenant ${t.name} already has the host ${host}`);
  }
}

/**
 * The global API secrets as `serve` would use them here: those of `BBBLB_SECRET` (as the settings give it), else
 * the one bbblb generated and keeps in the store.
 */
export async function globalSecretsOf(kv: Deno.Kv, configured: string | undefined): Promise<string[]> {
  const given = (configured ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (given.length > 0) return given;
  const stored = await storedSecret(kv);
  return stored ? [stored] : [];
}

/** Options of {@linkcode addTenantCommand}. */
export interface AddTenantOptions {
  name: string;
  /** `--secret` values (`-` reads stdin); none: one is generated and printed once. */
  secrets: string[];
  host?: string;
  /** The global API secrets, so a tenant never gets one of them. */
  globalSecrets: readonly string[];
  readStdin: () => Promise<string>;
}

/**
 * `tenant add NAME [--secret S]... [--host HOST]`.
 *
 * @returns the lines to print: a generated secret is shown here, and never again
 * @throws {CliError} exit 2 for bad values, 1 for a taken name, secret or host
 */
export async function addTenantCommand(kv: Deno.Kv, o: AddTenantOptions): Promise<string> {
  const name = nameOf(o.name, false);
  const given: string[] = [];
  for (const s of o.secrets) given.push(await secretOf(s, o.readStdin));
  const host = o.host === undefined ? null : hostOf(o.host);
  const secrets = given.length > 0 ? [...new Set(given)] : [generateSecret()];
  await checkUnique(kv, name, secrets, host, o.globalSecrets);
  if (!(await addTenant(kv, { ...emptyTenant(name), secrets, host }))) {
    throw new CliError(`tenant ${name} already exists`);
  }
  const line = `added tenant ${name}${host ? ` (host ${host})` : ""} with ${secrets.length} secret(s)`;
  if (given.length > 0) return line;
  return `${line}; its secret (shown only now):\n${secrets[0]}`;
}

/** One row of `tenant list --json`: never a secret, only how many. */
export interface TenantRow {
  name: string;
  host: string | null;
  secrets: number;
  defaultTag: string | null;
  create: ParamRule[];
  join: ParamRule[];
  maxMeetings: number | null;
  maxParticipants: number | null;
  /** Blocked parameters and allow-lists (`null` lists: any host). */
  policy: { blocked: string[]; urlHosts: string[] | null; callbackHosts: string[] | null };
  /** Meetings running (or being created) now. */
  meetings: number;
  /** Whether its recordings are protected; `null`: as `serve --protected-recordings` says. */
  protectedRecordings: boolean | null;
  /** Days after which its recordings are deleted, or `null`: kept. */
  deleteRecordingsAfterDays: number | null;
}

/** `tenant list [--json]`: the default tenant first, then the tenants by name. */
export async function listTenantsCommand(kv: Deno.Kv, json: boolean): Promise<string> {
  const meetings = await listAllMeetings(kv);
  const count = (slot: string) => meetings.filter((m) => m.value.tenant === slot).length;
  const records: TenantRecord[] = [
    (await getTenant(kv, DEFAULT_TENANT_NAME))!,
    ...(await listTenants(kv)).sort((a, b) => a.name < b.name ? -1 : 1),
  ];
  const rows: TenantRow[] = records.map((t) => ({
    name: t.name,
    host: t.host,
    secrets: t.secrets.length,
    defaultTag: t.defaultTag,
    create: t.create,
    join: t.join,
    maxMeetings: t.maxMeetings,
    maxParticipants: t.maxParticipants,
    policy: {
      blocked: t.policy?.blocked ?? [],
      urlHosts: t.policy?.urlHosts ?? null,
      callbackHosts: t.policy?.callbackHosts ?? null,
    },
    meetings: count(tenantSlot(t.name)),
    protectedRecordings: t.protectedRecordings ?? null,
    deleteRecordingsAfterDays: t.deleteRecordingsAfterDays ?? null,
  }));
  if (json) return JSON.stringify(rows, null, 2);
  const table = [
    [
      "NAME",
      "HOST",
      "SECRETS",
      "DEFAULT TAG",
      "RULES",
      "MAX MEETINGS",
      "MAX PARTICIPANTS",
      "MEETINGS",
      "POLICY",
    ],
    ...rows.map((r) => [
      r.name,
      r.host ?? "-",
      r.name === DEFAULT_TENANT_NAME ? "BBBLB_SECRET" : String(r.secrets),
      r.defaultTag ?? "-",
      String(r.create.length + r.join.length),
      r.maxMeetings === null ? "-" : String(r.maxMeetings),
      r.maxParticipants === null ? "-" : String(r.maxParticipants),
      String(r.meetings),
      describePolicy(r.policy),
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/**
 * `tenant remove NAME [--force]`: refused while the tenant has running meetings, unless forced (they keep
 * running on their servers, but no front-end reaches them through bbblb any more).
 *
 * @throws {CliError} exit 2 for a bad name, 1 for an unknown tenant or running meetings
 */
export async function removeTenantCommand(kv: Deno.Kv, rawName: string, force: boolean): Promise<string> {
  const name = nameOf(rawName, true);
  if (name === DEFAULT_TENANT_NAME) {
    throw new CliError(
      "the default tenant cannot be removed; `tenant set default --clear-rules` clears its rules",
    );
  }
  if (!(await getTenant(kv, name))) throw new CliError(`there is no tenant ${name}`);
  const running = await countTenantMeetings(kv, name);
  if (running > 0 && !force) {
    throw new CliError(`tenant ${name} has ${running} running meeting(s); end them first, or use --force`);
  }
  await removeTenant(kv, name);
  return running > 0
    ? `removed tenant ${name}; its ${running} meeting(s) keep running but can no longer be reached through bbblb`
    : `removed tenant ${name}`;
}

/** Options of {@linkcode setTenantCommand}; every field is optional, as on the command line. */
export interface SetTenantOptions {
  name: string;
  /** `--secret` (repeatable): replaces every secret. */
  secrets?: string[];
  addSecrets?: string[];
  removeSecrets?: string[];
  host?: string;
  noHost?: boolean;
  defaultTag?: string;
  noDefaultTag?: boolean;
  createForce?: string[];
  createDefault?: string[];
  createRemove?: string[];
  createCap?: string[];
  joinForce?: string[];
  joinDefault?: string[];
  joinRemove?: string[];
  joinCap?: string[];
  clearRules?: boolean;
  maxMeetings?: string;
  maxParticipants?: string;
  /** Blocked parameters and URL and callback allow-lists (see `tenant_policy.ts`). */
  policy?: PolicyOptions;
  /** `--protected-recordings on|off|inherit` (inherit: as `serve --protected-recordings`). */
  protectedRecordings?: string;
  /** `--delete-recordings-after DAYS|none`. */
  deleteRecordingsAfter?: string;
  globalSecrets: readonly string[];
  readStdin: () => Promise<string>;
}

/** Add rules to a list: a rule for a name replaces the earlier rule for that name. */
function withRules(list: ParamRule[], added: ParamRule[]): ParamRule[] {
  let out = [...list];
  for (const r of added) out = [...out.filter((x) => x.name.toLowerCase() !== r.name.toLowerCase()), r];
  return out;
}

/**
 * `tenant set NAME …` (`default` sets the default tenant's rules, limits and default tag). Every value is checked
 * before anything changes.
 *
 * @throws {CliError} exit 2 for bad or conflicting values, 1 for an unknown tenant or a taken secret or host
 */
export async function setTenantCommand(kv: Deno.Kv, o: SetTenantOptions): Promise<string> {
  const name = nameOf(o.name, true);
  const isDefault = name === DEFAULT_TENANT_NAME;
  const secretsGiven = (o.secrets?.length ?? 0) + (o.addSecrets?.length ?? 0) +
    (o.removeSecrets?.length ?? 0);
  if (isDefault && secretsGiven > 0) {
    throw usage("the default tenant's secrets are BBBLB_SECRET (see serve); they are not set here");
  }
  if (isDefault && (o.host !== undefined || o.noHost)) {
    throw usage("the default tenant has no host of its own");
  }
  if (o.host !== undefined && o.noHost) throw usage("--host and --no-host exclude each other");
  if (o.defaultTag !== undefined && o.noDefaultTag) {
    throw usage("--default-tag and --no-default-tag exclude each other");
  }
  const read = async (list: string[] | undefined) => {
    const out: string[] = [];
    for (const s of list ?? []) out.push(await secretOf(s, o.readStdin));
    return out;
  };
  const replace = await read(o.secrets);
  const add = await read(o.addSecrets);
  const remove = (o.removeSecrets ?? []).map((s) => s.trim());
  const host = o.host === undefined ? undefined : hostOf(o.host);
  const defaultTag = o.defaultTag === undefined ? undefined : tagOf(o.defaultTag);
  const rules = (ops: [ParamRule["op"], string[] | undefined, string][]) =>
    ops.flatMap(([op, values, flag]) => (values ?? []).map((v) => ruleOf(op, v, flag)));
  const createRules = rules([
    ["force", o.createForce, "--create-force"],
    ["default", o.createDefault, "--create-default"],
    ["remove", o.createRemove, "--create-remove"],
    ["cap", o.createCap, "--create-cap"],
  ]);
  const joinRules = rules([
    ["force", o.joinForce, "--join-force"],
    ["default", o.joinDefault, "--join-default"],
    ["remove", o.joinRemove, "--join-remove"],
    ["cap", o.joinCap, "--join-cap"],
  ]);
  const maxMeetings = o.maxMeetings === undefined ? undefined : limitOf(o.maxMeetings, "--max-meetings");
  const maxParticipants = o.maxParticipants === undefined
    ? undefined
    : limitOf(o.maxParticipants, "--max-participants");
  const policy = policyChange(o.policy ?? {});

  const protect = o.protectedRecordings === undefined ? undefined : protectionOf(o.protectedRecordings);
  const deleteAfter = o.deleteRecordingsAfter === undefined
    ? undefined
    : daysOf(o.deleteRecordingsAfter, "--delete-recordings-after");

  const current = await getTenant(kv, name);
  if (!current) throw new CliError(`there is no tenant ${name}`);
  let secrets = replace.length > 0 ? [...new Set(replace)] : [...current.secrets];
  secrets = [...new Set([...secrets, ...add])];
  for (const s of remove) {
    if (!secrets.includes(s)) throw new CliError("--remove-secret: that is not one of the tenant's secrets");
    secrets = secrets.filter((x) => x !== s);
  }
  if (!isDefault && secrets.length === 0) {
    throw new CliError("a tenant keeps at least one secret; add the new one before removing the last");
  }
  await checkUnique(
    kv,
    name,
    secrets.filter((s) => !current.secrets.includes(s)),
    host ?? null,
    o.globalSecrets,
  );

  const changed: string[] = [];
  if (secretsGiven > 0) changed.push(`${secrets.length} secret(s)`);
  if (host !== undefined) changed.push(`host ${host}`);
  if (o.noHost) changed.push("no host");
  if (defaultTag !== undefined) changed.push(`default tag ${defaultTag}`);
  if (o.noDefaultTag) changed.push("no default tag");
  if (o.clearRules) changed.push("rules cleared");
  if (createRules.length + joinRules.length > 0) {
    changed.push(`${createRules.length + joinRules.length} rule(s)`);
  }
  if (maxMeetings !== undefined) changed.push(`max meetings ${maxMeetings ?? "none"}`);
  if (maxParticipants !== undefined) changed.push(`max participants ${maxParticipants ?? "none"}`);
  if (policy) changed.push(...policy.changed);
  if (protect !== undefined) {
    changed.push(`protected recordings ${protect === null ? "inherit" : protect ? "on" : "off"}`);
  }
  if (deleteAfter !== undefined) {
    changed.push(deleteAfter === null ? "recordings kept" : `recordings deleted after ${deleteAfter} day(s)`);
  }
  if (changed.length === 0) throw usage("nothing to change: give at least one option (see --help)");

  const updated = await updateTenant(kv, name, (t) => ({
    ...(policy ? policy.apply(t) : t),
    secrets: isDefault ? [] : secrets,
    host: isDefault ? null : o.noHost ? null : host ?? t.host,
    defaultTag: o.noDefaultTag ? null : defaultTag ?? t.defaultTag,
    create: withRules(o.clearRules ? [] : t.create, createRules),
    join: withRules(o.clearRules ? [] : t.join, joinRules),
    maxMeetings: maxMeetings === undefined ? t.maxMeetings : maxMeetings,
    maxParticipants: maxParticipants === undefined ? t.maxParticipants : maxParticipants,
    protectedRecordings: protect === undefined ? t.protectedRecordings ?? null : protect,
    deleteRecordingsAfterDays: deleteAfter === undefined ? t.deleteRecordingsAfterDays ?? null : deleteAfter,
  }));
  if (!updated) throw new CliError(`there is no tenant ${name}`);
  return `updated tenant ${name}: ${changed.join(", ")}`;
}
