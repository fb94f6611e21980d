/**
 * Tenants on the request path: which tenant a request belongs to (by host, else by the secret that verifies its
 * checksum), and what that means for the call — the tenant's meetingIDs scoped toward BBB and unscoped in the
 * answers, its create and join rules, its default tag and its limits. The tenant list is cached for at most a
 * second, so admin changes apply within two seconds without a store read per request.
 *
 * @module
 */
import { BbbError } from "../bbb/errors.ts";
import { get, parseQuery, replaceParam } from "../bbb/query.ts";
import { childText, type OrderedNode } from "../bbb/xml.ts";
import { tagParamOf } from "../balancer/tags.ts";
import {
  applyRules,
  applyRulesToQuery,
  backendMeetingID,
  ownerOf,
  TENANT_META,
  tenantOfBackendID,
  unscopeXml,
} from "../cluster/tenancy.ts";
import { callbackKindOf } from "../cluster/callbacks.ts";
import { isBotJoin } from "../cluster/bots.ts";
import { checkCallbackUrl, checkPolicy, type SelfAddress, type TenantPolicy } from "../cluster/policy.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import { getMeeting, hasMeetings } from "../store/meetings.ts";
import {
  countTenantMeetings,
  getDefaultTenantRecord,
  isTenantName,
  listTenants,
  tenantParticipants,
  type TenantRecord,
} from "../store/tenants.ts";
import type { ApiRequest, Keyring } from "./request.ts";
import { xml } from "./responses.ts";

/** The tenants as one request sees them. */
export interface TenantSnapshot {
  /** Every tenant by name. */
  byName: Map<string, TenantRecord>;
  /** Tenants with a host, by lower-cased host. */
  byHost: Map<string, TenantRecord>;
  /** The names of every tenant. */
  names: Set<string>;
  /** The default tenant's own rules, limits and default tag, or `null`. */
  defaults: TenantRecord | null;
}

/** The tenant list, read from the store at most once per `maxAgeMs`. */
export class TenantDirectory {
  #kv: Deno.Kv;
  #maxAgeMs: number;
  #loaded: { at: number; snapshot: TenantSnapshot } | null = null;
  #loading: Promise<TenantSnapshot> | null = null;

  /**
   * @param maxAgeMs how long a read is reused @default 1000
   */
  constructor(kv: Deno.Kv, maxAgeMs = 1000) {
    this.#kv = kv;
    this.#maxAgeMs = maxAgeMs;
  }

  /** The current snapshot (from the cache while it is fresh). */
  snapshot(): Promise<TenantSnapshot> {
    const now = Date.now();
    if (this.#loaded && now - this.#loaded.at < this.#maxAgeMs) return Promise.resolve(this.#loaded.snapshot);
    this.#loading ??= this.#load(now).finally(() => (this.#loading = null));
    return this.#loading;
  }

  async #load(at: number): Promise<TenantSnapshot> {
    const [tenants, defaults] = await Promise.all([listTenants(this.#kv), getDefaultTenantRecord(this.#kv)]);
    const snapshot: TenantSnapshot = {
      byName: new Map(tenants.map((t) => [t.name, t])),
      byHost: new Map(tenants.filter((t) => t.host).map((t) => [t.host!.toLowerCase(), t])),
      names: new Set(tenants.map((t) => t.name)),
      defaults,
    };
    this.#loaded = { at, snapshot };
    return snapshot;
  }
}

/**
 * The host a request was made to, lower-cased and without its port: `X-Forwarded-Host` (its first value) when
 * the proxy is trusted and sent one, else `Host` (else the host of the request URL).
 */
export function requestHost(req: Request, trustProxy: boolean): string | null {
  const forwarded = trustProxy ? req.headers.get("x-forwarded-host")?.split(",")[0].trim() : undefined;
  let raw = (forwarded || req.headers.get("host") || "").trim().toLowerCase();
  if (raw === "") {
    try {
      raw = new URL(req.url).host.toLowerCase(); // Deno builds the URL from Host; in-process requests have no header
    } catch { /* no host */ }
  }
  if (raw === "") return null;
  if (raw.startsWith("[")) return raw.slice(0, raw.indexOf("]") + 1);
  return raw.replace(/:\d*$/, "");
}

/**
 * The secrets a request may be signed with, each naming its tenant, in the order they are tried: only the
 * tenant's own when the host is a tenant's; else the global secrets (the default tenant) first, then every
 * tenant's.
 */
export function keyringFor(
  snapshot: TenantSnapshot,
  global: readonly string[],
  host: string | null,
): Keyring {
  const byHost = host === null ? undefined : snapshot.byHost.get(host);
  if (byHost) return byHost.secrets.map((secret) => ({ secret, tenant: byHost.name }));
  return [
    ...global.map((secret) => ({ secret, tenant: DEFAULT_TENANT })),
    ...[...snapshot.byName.values()].flatMap((t) => t.secrets.map((secret) => ({ secret, tenant: t.name }))),
  ];
}

/** The rules, limits and default tag of a request's tenant (the default tenant's own record for it). */
function recordOf(snapshot: TenantSnapshot, tenant: string): TenantRecord | null {
  return tenant === DEFAULT_TENANT ? snapshot.defaults : snapshot.byName.get(tenant) ?? null;
}

/** Calls that forward the client's query (with its meetingID) to the meeting's server. */
const FORWARDS_MEETING_ID = new Set([
  "join",
  "end",
  "getMeetingInfo",
  "isMeetingRunning",
  "insertDocument",
  "sendChatMessage",
]);

/** Calls whose answers come from BBB with scoped meetingIDs in them. */
const UNSCOPED_ANSWERS = new Set([
  "create",
  "join",
  "getMeetingInfo",
  "move",
  "getMeetings",
  "getRecordings",
]);

/** Longest meetingID BBB accepts (bbb-web `MeetingIDConstraint`). */
const MAX_MEETING_ID = 256;

/** The FAILED answer for a tenant's limit. */
function limitExceeded(message: string): BbbError {
  return new BbbError("limitExceeded", message);
}

/**
 * Make a verified request the tenant's: refuse what a tenant may not do (hooks) and what the policies forbid
 * (the default tenant's for everyone, then the tenant's own: see `cluster/policy.ts`), check its limits, apply its
 * create and join rules and default tag, and scope the meetingID of the calls that forward the client's query.
 * `req.params` keep the tenant's own meetingID (the store knows meetings by it).
 *
 * @param self bbblb's own addresses, which callback URLs may not name unless an allow-list does
 * @throws {BbbError} `unsupportedRequest` (hooks of a tenant), `limitExceeded`, `validationError`
 */
export async function tenantRequest(
  kv: Deno.Kv,
  snapshot: TenantSnapshot,
  req: ApiRequest,
  self: readonly SelfAddress[] = [],
): Promise<void> {
  const tenant = req.tenant;
  if (tenant !== DEFAULT_TENANT && req.call.startsWith("hooks/")) {
    throw new BbbError(
      "unsupportedRequest",
      "Webhooks are not available to tenants yet: BBB's events would include other tenants' meetings.",
    );
  }
  const record = recordOf(snapshot, tenant);
  enforcePolicy(
    req,
    [snapshot.defaults?.policy, tenant === DEFAULT_TENANT ? undefined : record?.policy],
    self,
  );
  const meetingID = get(req.params, "meetingID");
  if (req.call === "create" && meetingID !== undefined) {
    if (backendMeetingID(tenant, meetingID).length > MAX_MEETING_ID) {
      throw new BbbError(
        "validationError",
        `Meeting ID must be between 2 and ${MAX_MEETING_ID - tenant.length - 1} characters`,
      );
    }
    if (tenant === DEFAULT_TENANT && await reservedForTenant(kv, meetingID, snapshot.names)) {
      throw new BbbError(
        "validationError",
        `Meeting IDs starting with "${
          meetingID.slice(0, meetingID.indexOf("~") + 1)
        }" are reserved for a tenant.`,
      );
    }
    if (record) {
      let params = applyRules(req.params, record.create);
      if (record.defaultTag && tagParamOf(params) === undefined) {
        params = [...params, ["meta_server-tag", record.defaultTag]];
      }
      req.params = params;
      if (record.maxMeetings !== null) await checkMeetingLimit(kv, tenant, meetingID, record.maxMeetings);
    }
  }
  if (req.call === "join" && record) {
    if (record.join.length > 0) {
      req.query = applyRulesToQuery(req.query, record.join);
      req.params = parseQuery(req.query);
    }
    // A bot (BBB 3.0 `bot=true`) takes no participant's seat.
    if (record.maxParticipants !== null && !isBotJoin(req.params)) {
      await checkParticipantLimit(kv, tenant, record.maxParticipants);
    }
  }
  if (tenant !== DEFAULT_TENANT && FORWARDS_MEETING_ID.has(req.call) && meetingID !== undefined) {
    req.query = replaceParam(req.query, "meetingID", backendMeetingID(tenant, meetingID));
  }
}

/**
 * The policies on a request as the client sent it (before the tenant's rules): blocked parameters and URL hosts
 * of create, join and insertDocument, and the callback URLs of create and `hooks/create`.
 *
 * @throws {BbbError} `validationError` naming the parameter
 */
function enforcePolicy(
  req: ApiRequest,
  policies: readonly (TenantPolicy | undefined)[],
  self: readonly SelfAddress[],
): void {
  const urlsChecked = policies.some((p) => p?.urlHosts != null);
  const xmlBody = urlsChecked && req.body && req.body.contentType.includes("xml")
    ? new TextDecoder().decode(req.body.bytes)
    : undefined;
  checkPolicy({ call: req.call, params: req.params, xmlBody }, policies);
  const callbacks = req.call === "create"
    ? req.params.filter(([n, v]) => callbackKindOf(n) !== undefined && v.trim() !== "")
    : req.call === "hooks/create"
    ? req.params.filter(([n]) => n === "callbackURL")
    : [];
  for (const [n, v] of callbacks) checkCallbackUrl(n, v, policies, self);
}

/** A tenant's answer: BBB's XML with the tenant's own meetingIDs (see {@linkcode unscopeXml}). */
export async function tenantAnswer(req: ApiRequest, res: Response): Promise<Response> {
  if (req.tenant === DEFAULT_TENANT || !UNSCOPED_ANSWERS.has(req.call)) return res;
  if (!res.headers.get("content-type")?.includes("xml")) return res;
  return xml(unscopeXml(await res.text(), req.tenant));
}

/**
 * `maxMeetings`: a new meeting of a tenant that already runs that many is refused; a create of a meeting that
 * runs (or is being created) is always let through. Concurrent creates of new meetings may overshoot the limit
 * by at most the number of creates in flight at once.
 */
async function checkMeetingLimit(kv: Deno.Kv, tenant: string, meetingID: string, max: number): Promise<void> {
  if ((await getMeeting(kv, tenant, meetingID)).versionstamp !== null) return;
  const running = await countTenantMeetings(kv, tenant);
  if (running >= max) {
    throw limitExceeded(
      `The limit of ${max} concurrent meeting(s) for this front-end is reached; end a meeting first.`,
    );
  }
}

/** `maxParticipants`: a join is refused while the tenant's meetings hold that many participants (last poll). */
async function checkParticipantLimit(kv: Deno.Kv, tenant: string, max: number): Promise<void> {
  const participants = await tenantParticipants(kv, tenant);
  if (participants >= max) {
    throw limitExceeded(
      `The limit of ${max} participants in the meetings of this front-end is reached; try again later.`,
    );
  }
}

/** The `bbblb-tenant` metadata of a listed `<meeting>` or `<recording>` node, or `undefined`. */
function tenantMetaOf(node: OrderedNode): string | undefined {
  const element = Object.keys(node).find((k) => k !== ":@")!;
  const metadata = (node[element] as OrderedNode[]).find((n) => "metadata" in n);
  return metadata ? childText(metadata, TENANT_META) : undefined;
}

/**
 * The `<meeting>` or `<recording>` nodes of a BBB listing that belong to `tenant` (see {@linkcode ownerOf}). A
 * breakout room without tenant metadata belongs to its parent's tenant when the parent is in the same listing.
 */
export function ownNodes(nodes: OrderedNode[], tenant: string, names: ReadonlySet<string>): OrderedNode[] {
  const owners = new Map<OrderedNode, string>();
  const byInternal = new Map<string, string>();
  for (const n of nodes) {
    const owner = ownerOf(childText(n, "meetingID"), tenantMetaOf(n), names);
    owners.set(n, owner);
    const internal = childText(n, "internalMeetingID");
    if (internal) byInternal.set(internal, owner);
  }
  return nodes.filter((n) => {
    const parent = childText(n, "parentMeetingID");
    if (tenantMetaOf(n) === undefined && parent && byInternal.has(parent)) {
      return byInternal.get(parent) === tenant;
    }
    return owners.get(n) === tenant;
  });
}

/**
 * Whether a default-tenant meetingID has the `<tenant>~…` form of a tenant — an existing one, or a removed one
 * whose meetings still run (they keep their server-side IDs, which the default tenant must not take over).
 */
async function reservedForTenant(
  kv: Deno.Kv,
  meetingID: string,
  names: ReadonlySet<string>,
): Promise<boolean> {
  if (tenantOfBackendID(meetingID, names).tenant !== DEFAULT_TENANT) return true;
  const prefix = meetingID.slice(0, Math.max(0, meetingID.indexOf("~")));
  if (!isTenantName(prefix)) return false;
  return await hasMeetings(kv, prefix);
}
