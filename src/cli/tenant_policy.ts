/**
 * The policy options of `bbblb tenant set` (blocked parameters, URL and callback allow-lists; see
 * `cluster/policy.ts`): parsed and validated, then applied to a tenant record. Kept apart from `tenants.ts` so
 * that the other tenant options stay as they are.
 *
 * @module
 */
import type { TenantPolicy, TenantRecord } from "../store/tenants.ts";
import { CliError } from "./errors.ts";

/** The policy options as given on the command line; absent: unchanged. */
export interface PolicyOptions {
  /** `--block P` (repeatable): refuse creates and joins carrying parameter P. */
  block?: string[];
  /** `--unblock P` (repeatable). */
  unblock?: string[];
  /** `--url-host H` (repeatable): add H to the hosts URLs BBB or browsers fetch may point to. */
  urlHosts?: string[];
  /** `--any-url-host`: no URL allow-list (any host; the default). */
  anyUrlHost?: boolean;
  /** `--callback-host H` (repeatable): add H to the hosts bbblb may call back. */
  callbackHosts?: string[];
  /** `--any-callback-host`: no callback allow-list (any host but bbblb's own; the default). */
  anyCallbackHost?: boolean;
}

/** A parameter name to block: as BBB names parameters. @throws {CliError} exit 2 */
function paramOf(raw: string, flag: string): string {
  const name = raw.trim();
  if (!/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/.test(name)) {
    throw new CliError(`${flag}: "${raw}" is not a parameter name`, 2);
  }
  return name;
}

/** A host pattern: `example.org`, `*.example.org`, an IPv4 address or a bracketed IPv6 one. @throws {CliError} */
function hostPatternOf(raw: string, flag: string): string {
  const h = raw.trim().toLowerCase();
  if (!/^(\*\.)?[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(h) && !/^\[[0-9a-f:.]+\]$/.test(h) && h !== "*") {
    throw new CliError(
      `${flag}: "${raw}" is not a host (give example.org or *.example.org, without scheme, port or path)`,
      2,
    );
  }
  return h.replace(/^\[|\]$/g, "");
}

/**
 * Validate the policy options and return the change: a function applying them to a record, and what changed
 * (for the command's line), or `null` when no policy option was given.
 *
 * @throws {CliError} exit 2 for bad values or options that exclude each other
 */
export function policyChange(
  o: PolicyOptions,
): { apply: (t: TenantRecord) => TenantRecord; changed: string[] } | null {
  const block = (o.block ?? []).map((p) => paramOf(p, "--block"));
  const unblock = (o.unblock ?? []).map((p) => paramOf(p, "--unblock"));
  const urlHosts = (o.urlHosts ?? []).map((h) => hostPatternOf(h, "--url-host"));
  const callbackHosts = (o.callbackHosts ?? []).map((h) => hostPatternOf(h, "--callback-host"));
  if (urlHosts.length > 0 && o.anyUrlHost) {
    throw new CliError("--url-host and --any-url-host exclude each other", 2);
  }
  if (callbackHosts.length > 0 && o.anyCallbackHost) {
    throw new CliError("--callback-host and --any-callback-host exclude each other", 2);
  }
  const changed: string[] = [];
  if (block.length > 0) changed.push(`blocked ${block.join(", ")}`);
  if (unblock.length > 0) changed.push(`unblocked ${unblock.join(", ")}`);
  if (urlHosts.length > 0) changed.push(`URL hosts + ${urlHosts.join(", ")}`);
  if (o.anyUrlHost) changed.push("any URL host");
  if (callbackHosts.length > 0) changed.push(`callback hosts + ${callbackHosts.join(", ")}`);
  if (o.anyCallbackHost) changed.push("any callback host");
  if (changed.length === 0) return null;
  const apply = (t: TenantRecord): TenantRecord => {
    const p: TenantPolicy = t.policy ?? {};
    const blocked = [...new Set([...(p.blocked ?? []), ...block])].filter((b) => !unblock.includes(b));
    const addTo = (list: string[] | null | undefined, added: string[], any: boolean | undefined) =>
      any ? null : added.length > 0 ? [...new Set([...(list ?? []), ...added])] : list ?? null;
    return {
      ...t,
      policy: {
        blocked,
        urlHosts: addTo(p.urlHosts, urlHosts, o.anyUrlHost),
        callbackHosts: addTo(p.callbackHosts, callbackHosts, o.anyCallbackHost),
      },
    };
  };
  return { apply, changed };
}

/** The policy in one short column of `tenant list`: `-` when it allows everything. */
export function describePolicy(p: TenantPolicy | undefined): string {
  const parts: string[] = [];
  if ((p?.blocked ?? []).length > 0) parts.push(`blocked ${p!.blocked!.join(",")}`);
  if (p?.urlHosts != null) parts.push(`urls ${p.urlHosts.join(",") || "none"}`);
  if (p?.callbackHosts != null) parts.push(`callbacks ${p.callbackHosts.join(",") || "none"}`);
  return parts.join("; ") || "-";
}
