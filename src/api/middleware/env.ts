/**
 * What the steps of the request pipeline hand each other (Hono's per-request variables).
 *
 * @module
 */
import type { ApiContext } from "../context.ts";
import type { ApiRequest } from "../request.ts";
import type { TenantSnapshot } from "../tenants.ts";

/** A handler of one BBB API call. */
export type CallHandler = (ctx: ApiContext, req: ApiRequest) => Promise<Response>;

/**
 * The app's per-request variables: the handler of the call, the tenants as the request was verified against them,
 * the verified request, and for its log line the server the call went to and its tenant.
 */
export type AppEnv = {
  Variables: {
    handler?: CallHandler;
    tenants?: TenantSnapshot;
    api?: ApiRequest;
    server?: number;
    tenant?: string;
  };
};
