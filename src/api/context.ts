/**
 * What every API handler gets: the store, the backend settings and the logger, injected by `createApp`.
 *
 * @module
 */
import { type Backend, type BackendAnswer, BackendError, callBackend } from "../bbb/client.ts";
import { BbbError } from "../bbb/errors.ts";
import type { Logger } from "../log.ts";
import { markFailure, type ServerRecord } from "../store/servers.ts";

/** Dependencies of the API handlers. */
export interface ApiContext {
  kv: Deno.Kv;
  /** Timeout of every call to a BBB server, in ms. */
  backendTimeoutMs: number;
  /** How long a create waits for a concurrent claim of the same meetingID to settle, in ms. */
  settleMs: number;
  /** Consecutive failures that make a server offline (a request-path failure counts as a failed round). */
  failThreshold: number;
  fetch: typeof fetch;
  log: Logger;
}

/** Options of {@linkcode callServer}. */
export interface ServerCallOptions {
  body?: BodyInit;
  contentType?: string;
}

/**
 * Call a server; a failure takes it out of placement until its next good poll, counts toward going offline,
 * and is logged.
 *
 * @throws {BackendError} as {@linkcode callBackend} does, after recording the failure
 */
export async function callServer(
  ctx: ApiContext,
  server: ServerRecord & Backend,
  call: string,
  query: string,
  options: ServerCallOptions = {},
): Promise<BackendAnswer> {
  try {
    const answer = await callBackend(server, call, query, {
      timeoutMs: ctx.backendTimeoutMs,
      fetch: ctx.fetch,
      body: options.body,
      contentType: options.contentType,
    });
    return answer;
  } catch (e) {
    if (e instanceof BackendError) {
      ctx.log.warn("server call failed", { server: server.id, call, error: e.message });
      await markFailure(ctx.kv, server.id, e.message, ctx.failThreshold);
    }
    throw e;
  }
}

/** The FAILED answer for a meeting whose server cannot be reached (Scalelite's key). */
export function serverUnavailable(
  message = "The meeting's BBB server cannot be reached; try again shortly.",
): BbbError {
  return new BbbError("serverUnavailable", message);
}
