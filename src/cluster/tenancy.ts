/**
 * How tenants stay apart on shared BBB servers: a non-default tenant's meetingID reaches BBB scoped as
 * `<tenant>~<meetingID>` and every create of a tenant carries `meta_bbblb-tenant=<tenant>`, so BBB's meetings and
 * recordings say whose they are; answers are unscoped again before the tenant sees them. Also the parameter
 * rules (force, default, remove, cap). Pure functions.
 *
 * @module
 */
import type { Params } from "../bbb/query.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import type { ParamRule } from "../store/tenants.ts";

/** The metadata that names a meeting's (and its recordings') tenant on BBB. */
export const TENANT_META = "bbblb-tenant";

/** The create parameter that carries {@linkcode TENANT_META}. */
export const TENANT_META_PARAM = `meta_${TENANT_META}`;

/** Separator between tenant and meetingID in a scoped ID (tenant names never contain it). */
const SEP = "~";

/**
 * The meetingID a BBB server sees for a tenant's meeting: unchanged for the default tenant, else
 * `<tenant>~<meetingID>`.
 *
 * @example
 * ```ts
 * import { backendMeetingID } from "./tenancy.ts";
 * if (backendMeetingID("law", "room 1") !== "law~room 1") throw new Error();
 * if (backendMeetingID("", "room 1") !== "room 1") throw new Error();
 * ```
 */
export function backendMeetingID(tenant: string, meetingID: string): string {
  return tenant === DEFAULT_TENANT ? meetingID : `${tenant}${SEP}${meetingID}`;
}

/**
 * Whose a meetingID seen on a BBB server is: `<tenant>~<id>` of an existing tenant is that tenant's `<id>`;
 * anything else is the default tenant's.
 */
export function tenantOfBackendID(
  backendID: string,
  tenants: ReadonlySet<string>,
): { tenant: string; meetingID: string } {
  const at = backendID.indexOf(SEP);
  if (at > 0) {
    const tenant = backendID.slice(0, at);
    if (tenants.has(tenant)) return { tenant, meetingID: backendID.slice(at + 1) };
  }
  return { tenant: DEFAULT_TENANT, meetingID: backendID };
}

/** Whether a name is {@linkcode TENANT_META_PARAM} (BBB lower-cases meta names). */
function isTenantMeta(name: string): boolean {
  return name.toLowerCase() === TENANT_META_PARAM;
}

/**
 * Create parameters as a tenant's meeting reaches BBB: the meetingID scoped, any `meta_bbblb-tenant` the client
 * sent dropped, and (for a non-default tenant) `meta_bbblb-tenant=<tenant>` added. The default tenant's
 * parameters stay as they were, except that a client cannot claim another tenant's metadata.
 */
export function scopeCreateParams(tenant: string, params: Params): Params {
  const out: Params = params
    .filter(([n]) => !isTenantMeta(n))
    .map(([n, v]) => n === "meetingID" ? [n, backendMeetingID(tenant, v)] : [n, v]);
  if (tenant !== DEFAULT_TENANT) out.push([TENANT_META_PARAM, tenant]);
  return out;
}

/** Whether a rule's name matches a parameter name (`meta_` names without case). */
function ruleMatches(rule: string, name: string): boolean {
  return rule.toLowerCase().startsWith("meta_") ? rule.toLowerCase() === name.toLowerCase() : rule === name;
}

/** The value a `cap` rule leaves: `value` when it is a number at most `cap` and above 0, else `cap`. */
function capped(value: string, cap: string): string {
  // Only plain digits: BBB reads numbers with Java's Integer.parseInt, which refuses "1e1", "0x10" or "10.0"
  // and then falls back to its default (0, unlimited), so such spellings must not pass a cap.
  const v = value.trim();
  return /^\d{1,9}$/.test(v) && Number(v) > 0 && Number(v) <= Number(cap) ? v : cap;
}

/**
 * Apply parameter rules to parameters, in order: `force` replaces every value (or appends one), `default`
 * appends one when absent, `remove` drops the parameter, `cap` lowers a value above the cap — or 0, negative or
 * not a number, BBB's "unlimited" — to the cap and appends the cap when absent.
 *
 * @example
 * ```ts
 * import { applyRules } from "./tenancy.ts";
 * const out = applyRules([["maxParticipants", "0"], ["record", "true"]], [
 *   { op: "cap", name: "maxParticipants", value: "50" },
 *   { op: "remove", name: "record" },
 *   { op: "default", name: "duration", value: "240" },
 * ]);
 * if (JSON.stringify(out) !== '[["maxParticipants","50"],["duration","240"]]') throw new Error();
 * ```
 */
export function applyRules(params: Params, rules: readonly ParamRule[]): Params {
  let out: Params = params.map(([n, v]) => [n, v]);
  for (const rule of rules) {
    const present = out.some(([n]) => ruleMatches(rule.name, n));
    switch (rule.op) {
      case "force":
        out = present
          ? out.map(([n, v]) => ruleMatches(rule.name, n) ? [n, rule.value ?? ""] : [n, v])
          : [...out, [rule.name, rule.value ?? ""]];
        break;
      case "default":
        if (!present) out = [...out, [rule.name, rule.value ?? ""]];
        break;
      case "remove":
        out = out.filter(([n]) => !ruleMatches(rule.name, n));
        break;
      case "cap":
        out = present
          ? out.map(([n, v]) => ruleMatches(rule.name, n) ? [n, capped(v, rule.value ?? "0")] : [n, v])
          : [...out, [rule.name, rule.value ?? "0"]];
        break;
    }
  }
  return out;
}

/**
 * Apply parameter rules to a raw query string, keeping the client's encoding of every pair a rule leaves alone
 * (so a join forwarded with a redirect still verifies on BBB after re-signing, byte for byte what the client
 * sent where nothing changed).
 */
export function applyRulesToQuery(query: string, rules: readonly ParamRule[]): string {
  let pairs = query === "" ? [] : query.split("&");
  const nameOf = (pair: string) => {
    const raw = pair.includes("=") ? pair.slice(0, pair.indexOf("=")) : pair;
    try {
      return decodeURIComponent(raw.replaceAll("+", " "));
    } catch {
      return raw;
    }
  };
  const valueOf = (pair: string) => {
    const raw = pair.includes("=") ? pair.slice(pair.indexOf("=") + 1) : "";
    try {
      return decodeURIComponent(raw.replaceAll("+", " "));
    } catch {
      return raw;
    }
  };
  const enc = (n: string, v: string) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`;
  for (const rule of rules) {
    const present = pairs.some((p) => ruleMatches(rule.name, nameOf(p)));
    switch (rule.op) {
      case "force":
        pairs = present
          ? pairs.map((p) => ruleMatches(rule.name, nameOf(p)) ? enc(nameOf(p), rule.value ?? "") : p)
          : [...pairs, enc(rule.name, rule.value ?? "")];
        break;
      case "default":
        if (!present) pairs = [...pairs, enc(rule.name, rule.value ?? "")];
        break;
      case "remove":
        pairs = pairs.filter((p) => !ruleMatches(rule.name, nameOf(p)));
        break;
      case "cap":
        pairs = present
          ? pairs.map((p) => {
            if (!ruleMatches(rule.name, nameOf(p))) return p;
            const v = valueOf(p);
            const c = capped(v, rule.value ?? "0");
            return c === v ? p : enc(nameOf(p), c);
          })
          : [...pairs, enc(rule.name, rule.value ?? "0")];
        break;
    }
  }
  return pairs.join("&");
}

/** Escape a string for use in a regular expression. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A BBB answer as a non-default tenant sees it: `<meetingID>` and `<parentMeetingID>` values lose the tenant's
 * `<tenant>~` scope (plain or in CDATA). Everything else passes byte for byte. Apply once per answer.
 */
export function unscopeXml(text: string, tenant: string): string {
  if (tenant === DEFAULT_TENANT) return text;
  const prefix = escapeRegExp(`${tenant}${SEP}`);
  return text.replace(
    new RegExp(`(<(?:meetingID|parentMeetingID)>(?:<!\\[CDATA\\[)?\\s*)${prefix}`, "g"),
    "$1",
  );
}

/**
 * Whose a meeting or recording listed by BBB is: its `bbblb-tenant` metadata when set (a tenant that no longer
 * exists keeps it from the default tenant too), else the scope of its meetingID, else the default tenant's.
 */
export function ownerOf(
  meetingID: string | undefined,
  tenantMeta: string | undefined,
  tenants: ReadonlySet<string>,
): string {
  if (tenantMeta !== undefined && tenantMeta.trim() !== "") return tenantMeta.trim();
  return meetingID === undefined ? DEFAULT_TENANT : tenantOfBackendID(meetingID, tenants).tenant;
}
