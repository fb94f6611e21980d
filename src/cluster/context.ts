/**
 * What the cluster operations need (the API's handlers and the admin CLI alike): the store, the backend settings,
 * the logger and the keys for the links bbblb hands out.
 *
 * @module
 */
import { type Backend, type BackendAnswer, BackendError, callBackend } from "../bbb/client.ts";
import { BbbError } from "../bbb/errors.ts";
import type { Logger } from "../log.ts";
import { markFailure, type ServerRecord } from "../store/servers.ts";
import type { Directory } from "./directory.ts";
import type { Placer } from "./placer.ts";

/** Dependencies of the cluster operations. */
export interface ClusterContext {
  kv: Deno.Kv;
  /** Timeout of every call to a BBB server, in ms. */
  backendTimeoutMs: number;
  /** How long a create waits for a concurrent claim of the same meetingID to settle, in ms. */
  settleMs: number;
  /** Consecutive failures that make a server offline (a request-path failure counts as a failed round). */
  failThreshold: number;
  fetch: typeof fetch;
  log: Logger;
  /** Public base URL of bbblb (`BBBLB_URL`), without a trailing slash, for the rejoin links in logoutURLs. */
  publicUrl: string;
  /** The key that signs rejoin links (kept in the store, independent of the API secret). */
  linkKey: Uint8Array;
  /**
   * The in-memory view that joins are answered from (see `directory.ts`); absent: every call reads the store.
   * A failed server call makes it forget the servers, so the health change is seen at once.
   */
  directory?: Directory;
  /**
   * This process's placement turns and server snapshot (see `placer.ts`); absent: every placement reads the
   * store and concurrent creates race for the least loaded server (the claim's check keeps that correct).
   */
  placer?: Placer;
}

/** Options of {@linkcode callServer}. */
export interface ServerCallOptions {
  body?: BodyInit;
  contentType?: string;
  /** @default "xml" */
  expect?: "xml" | "json";
}

/**
 * Call a server; a failure takes it out of placement until its next good poll, counts toward going offline,
 * and is logged.
 *
 * @throws {BackendError} as {@linkcode callBackend} does, after recording the failure
 */
export async function callServer(
  ctx: ClusterContext,
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
      expect: options.expect,
    });
    // The server refusing bbblb's own checksum means its secret is wrong in bbblb: a failure of that server,
    // never an answer for the client (whose checksum bbblb already verified).
    if (answer.response.messageKey === "checksumError") {
      throw new BackendError("invalid", `${call}: the server refused bbblb's checksum: is its secret right?`);
    }
    return answer;
  } catch (e) {
    if (e instanceof BackendError) {
      ctx.log.warn("server call failed", { server: server.id, call, error: e.message });
      await markFailure(ctx.kv, server.id, e.message, ctx.failThreshold);
      ctx.directory?.forgetServers();
      ctx.placer?.forget();
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
