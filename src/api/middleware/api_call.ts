/**
 * The steps of a BBB API call after the log line and before its handler: which call it is, its checksum and
 * tenant, and the tenant's rules and scoping.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { BbbError } from "../../bbb/errors.ts";
import { get } from "../../bbb/query.ts";
import type { ChecksumAlgorithm } from "../../bbb/checksum.ts";
import type { ApiContext } from "../context.ts";
import { type Keyring, readApiRequest } from "../request.ts";
import { keyringFor, requestHost, tenantAnswer, tenantRequest, type TenantSnapshot } from "../tenants.ts";
import type { AppEnv, CallHandler } from "./env.ts";
import type { SelfAddress } from "../../cluster/policy.ts";

/**
 * Find the handler of the call named in the path: a call bbblb refuses with a reason (`refused`), an unknown call,
 * or a method other than GET and POST is FAILED `unsupportedRequest`, before anything else is read.
 */
export function knownCall(
  options: { calls: Readonly<Record<string, CallHandler>>; refused: Readonly<Record<string, string>> },
): MiddlewareHandler<AppEnv> {
  const { calls, refused } = options;
  return async (c, next) => {
    const call = c.req.param("call") ?? "";
    if (Object.hasOwn(refused, call)) throw new BbbError("unsupportedRequest", refused[call]);
    const handler = Object.hasOwn(calls, call) ? calls[call] : undefined;
    if (!handler) throw new BbbError("unsupportedRequest", "This request is not supported.");
    if (c.req.method !== "GET" && c.req.method !== "POST") {
      throw new BbbError("unsupportedRequest", `The BBB API accepts GET and POST, not ${c.req.method}.`);
    }
    c.set("handler", handler);
    await next();
  };
}

/** What {@linkcode verifiedRequest} needs. */
export interface VerifyOptions {
  ctx: ApiContext;
  /** Whether `X-Forwarded-Host` names the host (tenants by host). */
  trustProxy: boolean;
  maxBodyBytes: number;
  checksumAlgorithms?: readonly ChecksumAlgorithm[];
}

/**
 * Read the call and verify its checksum against the secrets of the tenant the host names (or every secret, see
 * `keyringFor`); the verified request, with its tenant, is the `api` variable.
 *
 * @throws {BbbError} as `readApiRequest` does
 */
export function verifiedRequest(options: VerifyOptions): MiddlewareHandler<AppEnv> {
  const { ctx } = options;
  // The keyring of the last tenant snapshot, global secrets and host (they change rarely; a join should not build
  // the list again).
  let last:
    | { snapshot: TenantSnapshot; global: readonly string[]; host: string | null; keyring: Keyring }
    | null = null;
  return async (c, next) => {
    const snapshot = await ctx.tenants.snapshot();
    const global = ctx.secrets();
    const host = requestHost(c.req.raw, options.trustProxy);
    if (last === null || last.snapshot !== snapshot || last.global !== global || last.host !== host) {
      last = { snapshot, global, host, keyring: keyringFor(snapshot, global, host) };
    }
    const call = c.req.param("call") ?? "";
    c.set("tenants", snapshot);
    c.set(
      "api",
      await readApiRequest(c.req.raw, call, last.keyring, options.maxBodyBytes, options.checksumAlgorithms),
    );
    await next();
  };
}

/**
 * The tenant's rules before the call (`tenantRequest`: limits, reserved meetingIDs, the parameter policy with
 * bbblb's own `selfAddresses`) and its scoping after it
 * (`tenantAnswer`: its meetingIDs unscoped in the answer). Then, whatever happened, the server and tenant go to
 * the log line, and a call other than join that names a meeting makes the join directory forget it (create, end,
 * move and the rest may change it: the next join reads the store).
 */
export function tenantScope(
  ctx: ApiContext,
  selfAddresses?: readonly SelfAddress[],
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const req = c.get("api")!;
    try {
      await tenantRequest(ctx.kv, c.get("tenants")!, req, selfAddresses);
      await next();
      // A handler's failure is already the FAILED answer here: it is not the tenant's XML to unscope.
      if (!c.error) {
        const answer = await tenantAnswer(req, c.res);
        if (answer !== c.res) {
          // Hono merges the headers of a replaced answer into the new one; the unscoped answer stands alone.
          c.res = undefined as unknown as Response;
          c.res = answer;
        }
      }
    } finally {
      c.set("server", req.server);
      if (req.tenant !== "") c.set("tenant", req.tenant);
      const meetingID = get(req.params, "meetingID");
      if (req.call !== "join" && meetingID !== undefined) ctx.directory?.forgetMeeting(req.tenant, meetingID);
    }
  };
}

/** The last step: the call's handler, with the verified request. */
export function runCall(ctx: ApiContext): MiddlewareHandler<AppEnv> {
  return async (c) => await c.get("handler")!(ctx, c.get("api")!);
}
