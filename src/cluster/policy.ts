/**
 * Operator policy for shared clusters, beyond the parameter rules of `tenancy.ts`: parameters a front-end may
 * not send, the hosts of URLs that BBB servers or participants' browsers may be told to fetch, and the hosts
 * bbblb itself may call back (callback relays, hook events). Pure functions; the default tenant's policy applies
 * to every request (global), a tenant's own on top of it.
 *
 * Why: BBB 3.0 create parameters make the server or every participant's browser fetch remote content
 * (`pluginManifests`, `clientSettingsOverrideJsonUrl`, shared-notes content, slides), and plugins and client
 * settings run in every browser (reference/bbb-3.0-4.0-changes.md); callback URLs make bbblb itself fetch, which
 * without a check is a server-side request forgery towards bbblb's own port or its KV Connect host.
 *
 * @module
 */
import type { Params } from "../bbb/query.ts";
import { BbbError } from "../bbb/errors.ts";
import type { TenantPolicy } from "../store/tenants.ts";

export type { TenantPolicy };

/**
 * URL-valued create parameters: a BBB server fetches them (slides, plugin manifests, client settings, shared
 * notes content, the meetingEndedURL callback) or sends participants' browsers there (logo, logout and login).
 * bbblb's own relayed callbacks (`meta_bbb-recording-ready-url`, …) are checked as callbacks instead.
 */
export const CREATE_URL_PARAMS: readonly string[] = [
  "logoutURL",
  "loginURL",
  "logo",
  "darklogo",
  "meetingEndedURL",
  "preUploadedPresentation",
  "presentationUploadExternalUrl",
  "pluginManifestsFetchUrl",
  "clientSettingsOverrideJsonUrl",
  "sharedNotesInitialContentJsonUrl",
  "sharedNotesInitialContentMarkdownUrl",
];

/** Create parameters holding JSON whose `http(s)://` URLs are fetched (`pluginManifests: [{"url": …}]`). */
export const CREATE_JSON_URL_PARAMS: readonly string[] = ["pluginManifests"];

/** URL-valued join parameters: fetched by participants' browsers or where they are sent. */
export const JOIN_URL_PARAMS: readonly string[] = [
  "avatarURL",
  "webcamBackgroundURL",
  "logoutURL",
  "errorRedirectUrl",
];

/**
 * Whether parameter name `name` is meant by `wanted` (`meta_` names without case, as BBB lower-cases them; other
 * names exactly, as BBB's are case-sensitive).
 */
export function paramNameMatches(wanted: string, name: string): boolean {
  return wanted.toLowerCase().startsWith("meta_")
    ? wanted.toLowerCase() === name.toLowerCase()
    : wanted === name;
}

/**
 * Whether `host` (lower case, no port) is allowed by a list of host patterns: `example.org` matches itself,
 * `*.example.org` its subdomains (not itself), `*` anything.
 *
 * @example
 * ```ts
 * import { hostAllowed } from "./policy.ts";
 * if (!hostAllowed("cdn.example.org", ["*.example.org"]) || hostAllowed("example.org.evil", ["example.org"])) {
 *   throw new Error();
 * }
 * ```
 */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return patterns.some((p) => {
    const q = p.toLowerCase();
    if (q === "*") return true;
    if (q.startsWith("*.")) return h.endsWith(q.slice(1)) && h.length > q.length - 1;
    return h === q;
  });
}

/** The host of an absolute http(s) URL (lower case, IPv6 in brackets), or `null` for anything else. */
export function urlHost(value: string): string | null {
  try {
    const u = new URL(value.trim());
    return u.protocol === "http:" || u.protocol === "https:" ? u.hostname.toLowerCase() : null;
  } catch {
    return null;
  }
}

/** The `http(s)://` URLs inside a text (JSON, XML attributes). */
function urlsIn(text: string): string[] {
  return [...text.matchAll(/https?:\/\/[^\s"'<>\\,]+/gi)].map((m) => m[0]);
}

/** The `url` attributes of an XML body's `<document>` elements (pre-uploaded slides, insertDocument). */
function documentUrls(xml: string): string[] {
  const decode = (v: string) =>
    v.replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&apos;", "'").replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">");
  return [...xml.matchAll(/<document\b[^>]*?\burl\s*=\s*("([^"]*)"|'([^']*)')/gi)].map((m) =>
    decode(m[2] ?? m[3] ?? "")
  );
}

/** What {@linkcode checkPolicy} looks at. */
export interface PolicyRequest {
  /** `create`, `join` or `insertDocument` (other calls are not checked). */
  call: string;
  /** The parameters as the client sent them. */
  params: Params;
  /** An XML body as it came (slides), if any. */
  xmlBody?: string;
}

/**
 * Check a request against the policies that apply to it (the default tenant's, then the tenant's own): a
 * blocked parameter, or a URL (in a URL-valued parameter, in `pluginManifests`, in a `<document url>` of an XML
 * body) whose host a URL allow-list does not name, is refused. Callback parameters of a create are checked
 * against the callback allow-list with {@linkcode checkCallbackUrl} by the caller.
 *
 * @throws {BbbError} `validationError` naming the parameter (or `the XML body`)
 */
export function checkPolicy(
  req: PolicyRequest,
  policies: readonly (TenantPolicy | null | undefined)[],
): void {
  if (req.call !== "create" && req.call !== "join" && req.call !== "insertDocument") return;
  for (const policy of policies) {
    if (!policy) continue;
    if (req.call !== "insertDocument") {
      for (const blocked of policy.blocked ?? []) {
        const hit = req.params.find(([n]) => paramNameMatches(blocked, n));
        if (hit) {
          throw new BbbError(
            "validationError",
            `The parameter ${hit[0]} is not allowed on this BBB service.`,
          );
        }
      }
    }
    const hosts = policy.urlHosts;
    if (hosts == null) continue;
    const refuse = (where: string, url: string) => {
      const host = urlHost(url);
      if (host !== null && !hostAllowed(host, hosts)) {
        throw new BbbError(
          "validationError",
          `The URL in ${where} points to ${host}, which this BBB service does not allow.`,
        );
      }
    };
    const urlParams = req.call === "create" ? CREATE_URL_PARAMS : req.call === "join" ? JOIN_URL_PARAMS : [];
    for (const [n, v] of req.params) {
      if (urlParams.includes(n)) refuse(n, v);
      if (req.call === "create" && CREATE_JSON_URL_PARAMS.includes(n)) {
        for (const url of urlsIn(v)) refuse(n, url);
      }
    }
    if (req.xmlBody !== undefined) {
      for (const url of documentUrls(req.xmlBody)) refuse("the XML body", url);
    }
  }
}

/** An address of bbblb itself that callbacks must not reach by default: a host, and a port (`null`: any). */
export interface SelfAddress {
  host: string;
  port: number | null;
}

/** Hosts that stand for "this machine" when bbblb listens on a wildcard or loopback address. */
const LOCAL_HOSTS = ["localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0", "::", "[::]"];

/**
 * bbblb's own addresses: its listen address (`--host`, `--port`; a wildcard or loopback host stands for every
 * local name, and a wildcard for every address of the machine's interfaces too), its public URL, and the host of
 * a KV Connect store (any port).
 *
 * @param o.interfaces the machine's own addresses (`Deno.networkInterfaces()`), for a wildcard listen host
 */
export function selfAddresses(
  o: { listenHost: string; port: number; publicUrl?: string; kv?: string; interfaces?: readonly string[] },
): SelfAddress[] {
  const out: SelfAddress[] = [];
  const bare = canonicalHost;
  const listen = bare(o.listenHost);
  const local = LOCAL_HOSTS.map(bare).includes(listen);
  const wildcard = listen === "0.0.0.0" || listen === "::";
  const hosts = local ? [...LOCAL_HOSTS, ...(wildcard ? o.interfaces ?? [] : [])] : [listen];
  for (const host of new Set(hosts.map(bare))) out.push({ host, port: o.port });
  for (const url of [o.publicUrl, o.kv]) {
    if (!url || !/^https?:\/\//i.test(url)) continue;
    try {
      const u = new URL(url);
      const port = url === o.kv ? null : Number(u.port || (u.protocol === "https:" ? 443 : 80));
      out.push({ host: canonicalHost(u.hostname), port });
    } catch { /* not a URL: nothing to protect */ }
  }
  return out;
}

/**
 * A host as callbacks are compared: lower case, without brackets or trailing dots, an IPv4-mapped IPv6 address
 * (`::ffff:127.0.0.1`, which the URL parser writes `::ffff:7f00:1`) as its IPv4 address. Names are not resolved:
 * a DNS name pointing at bbblb is not caught (use a callback allow-list for that).
 */
export function canonicalHost(host: string): string {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.+$/, "");
  const dotted = h.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) return dotted[1];
  const hex = h.match(/^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/);
  if (!hex) return h;
  const [a, b] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
  return [a >> 8, a & 255, b >> 8, b & 255].join(".");
}

/** `localhost`, 127.0.0.0/8 or `::1` (a canonical host). */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Whether bbblb may call `url` back: an absolute http(s) URL, allowed by every callback allow-list that applies,
 * and — unless an allow-list names its host — not one of bbblb's own addresses.
 *
 * @returns `null` when allowed, else why not (a sentence without the URL's query)
 */
export function callbackRefusal(
  url: string,
  policies: readonly (TenantPolicy | null | undefined)[],
  self: readonly SelfAddress[],
): string | null {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return "it is not an absolute URL";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "it is not an http(s) URL";
  const host = canonicalHost(u.hostname);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  const lists = policies.map((p) => p?.callbackHosts).filter((l): l is string[] => l != null);
  for (const list of lists) if (!hostAllowed(host, list)) return `${host} is not an allowed callback host`;
  const named = lists.some((list) => list.some((p) => canonicalHost(p) === host));
  // Every loopback address reaches a listener on loopback or on a wildcard address, however it is written.
  const same = (s: SelfAddress) => s.host === host || (isLoopback(host) && isLoopback(s.host));
  if (!named && self.some((s) => same(s) && (s.port === null || s.port === port))) {
    return `${host} is bbblb itself or its store`;
  }
  return null;
}

/**
 * Check a callback URL a front-end gives (a create's callback metadata, `hooks/create`'s `callbackURL`).
 *
 * @throws {BbbError} `validationError` naming the parameter
 */
export function checkCallbackUrl(
  name: string,
  url: string,
  policies: readonly (TenantPolicy | null | undefined)[],
  self: readonly SelfAddress[],
): void {
  const why = callbackRefusal(url, policies, self);
  if (why !== null) {
    throw new BbbError("validationError", `The callback URL in ${name} is not allowed: ${why}.`);
  }
}
