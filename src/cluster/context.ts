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
import { DEFAULT_FANOUT_TIMEOUT_MS, type MeetingLists } from "./fan_out.ts";
import type { Placer } from "./placement_turns.ts";

/** Dependencies of the cluster operations. */
export interface ClusterContext {
  kv: Deno.Kv;
  /** Timeout of every call to a BBB server, in ms. */
  backendTimeoutMs: number;
  /** How long a create waits for a concurrent claim of the same meetingID to settle, in ms. */
  settleMs: number;
  /** Consecutive failures that make a server offline (a request-path failure counts as a failed round). */
  failThreshold: number;
  /**
   * How long a server must have given no valid BBB answer before its meetings may be re-created elsewhere, in
   * ms (`--failover-delay`); a probe of the meeting must fail too (see `lifecycle.ts`). @default 30 000
   */
  failoverDelayMs?: number;
  /** How long a create may take on a BBB server before it is in doubt, in ms (`--create-timeout`). @default 15 000 */
  createTimeoutMs?: number;
  /**
   * How long getMeetings, getSessions and routed getRecordings wait for the servers, in ms (`--fanout-timeout`);
   * a server that has not answered by then is listed from its last meeting list (getMeetings) or left out.
   * @default 2000
   */
  fanoutTimeoutMs?: number;
  /** The last meeting list of each server (see `fan_out.ts`); absent: a late server is left out of getMeetings. */
  meetingLists?: MeetingLists;
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
   * This process's placement turns and server snapshot (see `placement_turns.ts`); absent: every placement reads the
   * store and concurrent creates race for the least loaded server (the claim's check keeps that correct).
   */
  placer?: Placer;
  /** Digits of the dial-in PINs bbblb allocates (`--voice-bridge-digits`). @default 5 */
  voiceBridgeDigits?: number;
  /**
   * The dial-in gateway's phone number (`--dial-number`), forced as every new meeting's `dialNumber`; absent:
   * the client's (or BBB's default placeholder).
   */
  dialNumber?: string;
}

/** Default of `--failover-delay`, in ms. */
export const DEFAULT_FAILOVER_DELAY_MS = 30_000;

/** Default of `--create-timeout`, in ms. */
export const DEFAULT_CREATE_TIMEOUT_MS = 15_000;

/** The failover delay of a context, in ms. */
export function failoverDelayOf(ctx: Pick<ClusterContext, "failoverDelayMs">): number {
  return ctx.failoverDelayMs ?? DEFAULT_FAILOVER_DELAY_MS;
}

/** The digits of allocated dial-in PINs of a context. */
export function voiceBridgeDigitsOf(ctx: Pick<ClusterContext, "voiceBridgeDigits">): number {
  return ctx.voiceBridgeDigits ?? 5;
}

/** The fan-out timeout of a context, in ms. */
export function fanoutTimeoutOf(ctx: Pick<ClusterContext, "fanoutTimeoutMs">): number {
  return ctx.fanoutTimeoutMs ?? DEFAULT_FANOUT_TIMEOUT_MS;
}

/** The create timeout of a context, in ms. */
export function createTimeoutOf(ctx: Pick<ClusterContext, "createTimeoutMs">): number {
  return ctx.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS;
}

/** What {@linkcode clusterContext} needs; every setting left out takes `serve`'s default. */
export interface ClusterOptions {
  kv: Deno.Kv;
  log: Logger;
  publicUrl: string;
  linkKey: Uint8Array;
  /** @default 5000 */
  backendTimeoutMs?: number;
  /** @default 2 */
  failThreshold?: number;
  /** @default 30 000 */
  failoverDelayMs?: number;
  /** @default 15 000 */
  createTimeoutMs?: number;
  /** @default 2000 */
  fanoutTimeoutMs?: number;
  meetingLists?: MeetingLists;
  /** @default the create timeout plus 3 s: a concurrent create of one meetingID waits that long for the first */
  settleMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  directory?: Directory;
  placer?: Placer;
  /** @default 5 */
  voiceBridgeDigits?: number;
  /** @default none (the client's dialNumber is kept) */
  dialNumber?: string;
}

/**
 * The one place a {@linkcode ClusterContext} is built, for `serve`'s API and chores, the admin commands and the
 * tests alike: defaults filled in, the public URL without a trailing slash.
 */
export function clusterContext(options: ClusterOptions): ClusterContext {
  const createTimeoutMs = options.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS;
  return {
    kv: options.kv,
    log: options.log,
    publicUrl: options.publicUrl.replace(/\/+$/, ""),
    linkKey: options.linkKey,
    backendTimeoutMs: options.backendTimeoutMs ?? 5000,
    failThreshold: options.failThreshold ?? 2,
    failoverDelayMs: options.failoverDelayMs ?? DEFAULT_FAILOVER_DELAY_MS,
    createTimeoutMs,
    fanoutTimeoutMs: options.fanoutTimeoutMs ?? DEFAULT_FANOUT_TIMEOUT_MS,
    meetingLists: options.meetingLists,
    settleMs: options.settleMs ?? createTimeoutMs + 3000,
    fetch: options.fetch ?? fetch,
    directory: options.directory,
    placer: options.placer,
    voiceBridgeDigits: options.voiceBridgeDigits,
    dialNumber: options.dialNumber,
  };
}

/** Options of {@linkcode callServer}. */
export interface ServerCallOptions {
  body?: BodyInit;
  contentType?: string;
  /** @default "xml" */
  expect?: "xml" | "json";
  /** Timeout of this call in ms. @default the context's `backendTimeoutMs` */
  timeoutMs?: number;
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
      timeoutMs: options.timeoutMs ?? ctx.backendTimeoutMs,
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
      const turned = await markFailure(ctx.kv, server.id, e.message, ctx.failThreshold);
      if (turned?.before.online && !turned.after.online) {
        ctx.log.warn("server offline", { server: server.id, error: e.message });
      }
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
