/**
 * The HTTP app: `createApp(deps)` builds a Hono app that answers the BBB API at `/bigbluebutton/api/`, and
 * the operator endpoints `/healthz`, `/metrics` and `/status` (the latter two behind the optional admin token).
 * Every error of the BBB API becomes BBB's FAILED XML in exactly one place ({@linkcode createApp}'s `onError`).
 *
 * @module
 */
import { fsapi, type FsapiSettings } from "./fsapi.ts";
import { type Context, Hono } from "hono";
import { BbbError } from "../bbb/errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { relayCallback } from "./callbacks.ts";
import { relayHookEvent } from "./hook_relay.ts";
import type { ApiContext, CentralRecordings } from "./context.ts";
import { move } from "./move.ts";
import { rejoin } from "./rejoin.ts";
import { getStatistics } from "./statistics.ts";
import { getMeetings } from "./get_meetings.ts";
import { create, end, getMeetingInfo, inMeetingCall, isMeetingRunning, join } from "./meetings.ts";
import { createHook, destroyHook, listHooksCall } from "./hooks.ts";
import { getSessions } from "./get_sessions.ts";
import type { SelfAddress } from "../cluster/policy.ts";
import { getRecordings, jsonFailed, routedRecordingCall, textTrackCall } from "./recordings.ts";
import { centralRecordingCall, centralTextTrackCall, getRecordingsCentral } from "./central_recordings.ts";
import {
  AUTH_PATH as PLAYBACK_AUTH_PATH,
  isPlaybackPath,
  playbackAuth,
  playbackRequest,
} from "./playback.ts";
import { UPLOAD_PATH, uploadRecording, uploadStatus } from "./recording_upload.ts";
import { failed, success } from "./responses.ts";
import { healthz, plain } from "./admin.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { statusPage } from "./status.ts";
import { TenantDirectory } from "./tenants.ts";
import type { Directory } from "../cluster/directory.ts";
import { BackendError } from "../bbb/client.ts";
import { serverUnavailable } from "../cluster/context.ts";
import { Placer } from "../cluster/placement_turns.ts";
import { MeetingLists } from "../cluster/fan_out.ts";
import { clusterContext } from "../cluster/context.ts";
import { createDeadlineMs } from "../cluster/lifecycle.ts";
import { storeProblem } from "../store/kv.ts";
import type { ChecksumAlgorithm } from "../bbb/checksum.ts";
import type { AppEnv, CallHandler } from "./middleware/env.ts";
import { hostGuard } from "./middleware/host_guard.ts";
import { accessLog } from "./middleware/access_log.ts";
import { adminToken } from "./middleware/admin_token.ts";
import { deadline } from "./middleware/deadline.ts";
import { knownCall, runCall, tenantScope, verifiedRequest } from "./middleware/api_call.ts";

export type { AppEnv } from "./middleware/env.ts";

/** Dependencies of the app. Everything with a default can be left out in tests. */
export interface AppDeps {
  /** The store. */
  kv: Deno.Kv;
  /** The accepted API secrets (a function, so a rotation takes effect without a restart). */
  secrets: () => readonly string[];
  /** Timeout of every call to a BBB server, in ms. @default 5000 */
  backendTimeoutMs?: number;
  /** How long a create or join waits for a concurrent create of the same meetingID, in ms. @default createTimeoutMs + 3 s */
  settleMs?: number;
  /** Consecutive failures that make a server offline. @default 2 */
  failThreshold?: number;
  /** Silence of a server before its meetings are re-created elsewhere, in ms (`--failover-delay`). @default 30 000 */
  failoverDelayMs?: number;
  /** How long a create may take on a BBB server before it is in doubt, in ms (`--create-timeout`). @default 15 000 */
  createTimeoutMs?: number;
  /** How long getMeetings, getSessions and routed getRecordings wait for the servers, in ms. @default 2000 */
  fanoutTimeoutMs?: number;
  /**
   * The last meeting list of each server, which getMeetings lists for a server late to answer (`serve` shares it
   * with its poller). @default a new one, fed by getMeetings only
   */
  meetingLists?: MeetingLists;
  /** Largest accepted request body, in bytes. @default 32 MiB (slides may come as XML bodies) */
  maxBodyBytes?: number;
  /**
   * Longest time one BBB API request may take, body included, in ms; then it is answered FAILED
   * `serverUnavailable` (what it started, such as a create on a slow server, still finishes or is released in
   * the background). @default 30 000
   */
  requestTimeoutMs?: number;
  /** Public base URL of bbblb (`BBBLB_URL`) for the links it hands out. @default "http://127.0.0.1:8090" */
  publicUrl?: string;
  /** Where `rejoin` sends users of an ended meeting without a logoutURL of its own. @default null */
  logoutUrl?: string | null;
  /** Key that signs rejoin links (kept in the store by `serve`). @default a random key */
  linkKey?: Uint8Array;
  /** Key that seals join cookies (kept in the store by `serve`). @default a random key */
  cookieKey?: Uint8Array;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** @default a logger that drops everything */
  log?: Logger;
  /** The instance's metrics (shared with the poller's `onRound` hook by `serve`). @default new metrics */
  metrics?: Metrics;
  /**
   * Token that `/metrics` and `/status` require (`Authorization: Bearer`, or for `/status` a cookie set by
   * `?token=`); `null` leaves them open. @default null
   */
  adminToken?: string | null;
  /** Seconds between reloads of the `/status` page. @default 10 */
  statusRefreshSeconds?: number;
  /** Whether `X-Forwarded-Host` names the host a request was made to (tenants by host). @default false */
  trustProxy?: boolean;
  /**
   * bbblb's own addresses (listen address, public URL, KV Connect host), which callback URLs may not name unless
   * an allow-list does (`cluster/policy.ts`). @default none
   */
  selfAddresses?: readonly SelfAddress[];
  /** How long the tenant list read from the store is reused, in ms. @default 1000 */
  tenantCacheMs?: number;
  /**
   * The in-memory view joins are answered from without touching the store (`serve` passes one; see
   * `cluster/directory.ts` for how stale it may be). The app forgets a meetingID in it after every other call
   * naming that meeting. @default none: every join reads the store
   */
  directory?: Directory;
  /**
   * The checksum algorithms front-ends may sign with (`--checksum-algorithms`, BBB's
   * `supportedChecksumAlgorithms`). @default all four
   */
  checksumAlgorithms?: readonly ChecksumAlgorithm[];
  /**
   * Central custody of recordings (`serve --recordings-dir`): the recording calls answer from bbblb's index and
   * BBB servers upload to `POST /bbblb/v1/recordings`. @default none: recordings stay on the servers (routed)
   */
  recordings?: CentralRecordings;
  /** The dial-in gateway's dialplan endpoint (`POST /bbblb/v1/fsapi`). @default off */
  fsapi?: FsapiSettings;
  /** Digits of the dial-in PINs bbblb allocates (`--voice-bridge-digits`). @default 5 */
  voiceBridgeDigits?: number;
  /** The dial-in gateway's number, forced as every new meeting's `dialNumber`. @default none */
  dialNumber?: string;
}

/** The calls bbblb answers, by name. */
const CALLS: Record<string, CallHandler> = {
  create,
  join,
  end,
  getMeetingInfo,
  isMeetingRunning,
  getMeetings: (ctx, req) => getMeetings(ctx, req.tenant),
  getSessions: (ctx, req) => getSessions(ctx, req.tenant),
  move,
  getStatistics: (ctx, req) => getStatistics(ctx, req.tenant),
  getRecordings,
  publishRecordings: routedRecordingCall("publishRecordings"),
  updateRecordings: routedRecordingCall("updateRecordings"),
  deleteRecordings: routedRecordingCall("deleteRecordings"),
  getRecordingTextTracks: textTrackCall("getRecordingTextTracks"),
  putRecordingTextTrack: textTrackCall("putRecordingTextTrack"),
  insertDocument: inMeetingCall("insertDocument"),
  sendChatMessage: inMeetingCall("sendChatMessage"),
  "hooks/create": createHook,
  "hooks/list": listHooksCall,
  "hooks/destroy": destroyHook,
};

/** Calls that may create a meeting on a BBB server (see `createDeadlineMs`). */
const SLOW_CALLS = new Set(["create", "join", "move"]);
/** The recording calls in central custody, in place of the routed ones. */
const CENTRAL_CALLS: Record<string, CallHandler> = {
  getRecordings: getRecordingsCentral,
  publishRecordings: centralRecordingCall("publishRecordings"),
  updateRecordings: centralRecordingCall("updateRecordings"),
  deleteRecordings: centralRecordingCall("deleteRecordings"),
  getRecordingTextTracks: centralTextTrackCall("getRecordingTextTracks"),
  putRecordingTextTrack: centralTextTrackCall("putRecordingTextTrack"),
};

/**
 * Calls BBB answers in JSON: their failures are JSON too (the session-token calls getJoinUrl and
 * learningDashboard answer JSON on BBB 3.0+, so their refusal does too).
 */
const JSON_CALLS = new Set([
  "getRecordingTextTracks",
  "putRecordingTextTrack",
  "getJoinUrl",
  "learningDashboard",
]);

/** Calls bbblb refuses with a reason: they can never work through a load balancer, or BBB removed them. */
const REFUSED: Record<string, string> = {
  getJoinUrl:
    "getJoinUrl works with the session token of a user in a meeting; call it on that user's BBB server.",
  enter: "enter is called by the BBB client on its own server, never through a load balancer.",
  learningDashboard: "learningDashboard works with a session token; call it on the meeting's BBB server.",
  feedback: "feedback is called by the BBB client on its own server, never through a load balancer.",
  guestWait: "guestWait is called by the BBB client on its own server, never through a load balancer.",
  stuns: "stuns is called by the BBB client on its own server, never through a load balancer.",
  signOut: "signOut is called by the BBB client on its own server, never through a load balancer.",
  getDefaultConfigXML: "getDefaultConfigXML was removed in BBB 2.4.",
  setConfigXML: "setConfigXML was removed in BBB 2.4.",
};

const API = "/bigbluebutton/api/";

/**
 * The path of a request with repeated slashes merged, as nginx (`merge_slashes on`) and Tomcat in front of BBB
 * accept it: a front-end configured with `https://host/bigbluebutton/` whose client appends `/api/create`
 * requests `/bigbluebutton//api/create`. The query string is not touched (checksums cover it byte for byte).
 */
export function pathOf(req: Request): string {
  const url = req.url;
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  const path = url.slice(start, q < 0 ? undefined : q);
  return path.includes("//") ? path.replace(/\/{2,}/g, "/") : path;
}

/** What an unknown path is likely meant to be, for the debug log line. */
function unknownPathHint(path: string): string {
  if (path.includes("/api/") || path.endsWith("/api")) {
    return "the BBB API is at /bigbluebutton/api/; configure front-ends with https://HOST/bigbluebutton/";
  }
  return "bbblb answers /bigbluebutton/api/, its callbacks, /healthz, /metrics and /status";
}

/** Call names as metric labels: the known calls, `index`, or `other` (so a scanner cannot grow the labels). */
function callLabel(call: string): string {
  return call === "index" || call === "rejoin" || Object.hasOwn(CALLS, call) ? call : "other";
}

/** BBB's answer to `GET /bigbluebutton/api/` (the version document), as bbb-web 2.6–3.0 sends it. */
const VERSION = { version: "2.0", apiVersion: "2.0", bbbVersion: "" };

/**
 * Build the app.
 *
 * @example
 * ```ts
 * import { createApp } from "./app.ts";
 * const kv = await Deno.openKv(":memory:");
 * const app = createApp({ kv, secrets: () => ["a-long-secret"] });
 * const res = await app.request("/bigbluebutton/api/");
 * if (!(await res.text()).includes("<returncode>SUCCESS</returncode>")) throw new Error();
 * kv.close();
 * ```
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const ctx: ApiContext = {
    ...clusterContext({
      kv: deps.kv,
      backendTimeoutMs: deps.backendTimeoutMs,
      settleMs: deps.settleMs,
      failThreshold: deps.failThreshold,
      failoverDelayMs: deps.failoverDelayMs,
      createTimeoutMs: deps.createTimeoutMs,
      fanoutTimeoutMs: deps.fanoutTimeoutMs,
      meetingLists: deps.meetingLists ?? new MeetingLists(),
      fetch: deps.fetch,
      log: deps.log ?? silentLogger,
      publicUrl: deps.publicUrl ?? "http://127.0.0.1:8090",
      linkKey: deps.linkKey ?? crypto.getRandomValues(new Uint8Array(32)),
      directory: deps.directory,
      placer: new Placer(),
      voiceBridgeDigits: deps.voiceBridgeDigits,
      dialNumber: deps.dialNumber,
    }),
    logoutUrl: deps.logoutUrl ?? null,
    cookieKey: deps.cookieKey ?? crypto.getRandomValues(new Uint8Array(32)),
    secrets: deps.secrets,
    tenants: new TenantDirectory(deps.kv, deps.tenantCacheMs ?? 1000),
    recordings: deps.recordings,
  };
  const calls = deps.recordings ? { ...CALLS, ...CENTRAL_CALLS } : CALLS;
  const maxBodyBytes = deps.maxBodyBytes ?? 32 * 1024 * 1024;
  const requestTimeoutMs = deps.requestTimeoutMs ?? 30_000;
  // A create (or a join or move that re-creates a meeting) may try several servers, each within the create
  // timeout: its deadline is at least that long.
  const slowCallTimeoutMs = Math.max(
    requestTimeoutMs,
    createDeadlineMs(ctx.createTimeoutMs!, ctx.backendTimeoutMs),
  );
  const metrics = deps.metrics ?? createMetrics(deps.kv);
  const adminTokenValue = deps.adminToken ?? null;
  const checksumAlgorithms = deps.checksumAlgorithms;
  const app = new Hono<AppEnv>({ getPath: pathOf });

  // Every request: a Host header that would shift the path is refused. Every BBB API call: one log line and its
  // metrics.
  app.use("*", hostGuard());
  app.use("/bigbluebutton/api/*", accessLog({ log: ctx.log, metrics, callLabel }));

  app.get("/healthz", () => healthz(deps.kv));
  const fsapiDeps = { kv: deps.kv, log: ctx.log, settings: deps.fsapi ?? { password: "" } };
  app.post("/bbblb/v1/fsapi", (c) => fsapi(fsapiDeps, c));
  app.get("/metrics", adminToken(adminTokenValue), async () => {
    return plain(200, (await metrics.render()).trimEnd(), { "content-type": metrics.registry.contentType });
  });
  app.get("/status", (c) =>
    statusPage(c, {
      kv: deps.kv,
      adminToken: adminTokenValue,
      publicUrl: ctx.publicUrl,
      refreshSeconds: deps.statusRefreshSeconds,
      recordingsDir: deps.recordings?.custody.dir ?? null,
    }));

  const index = (c: Context) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      throw new BbbError("unsupportedRequest", `The BBB API accepts GET and POST, not ${c.req.method}.`);
    }
    return success(VERSION);
  };
  app.all("/bigbluebutton/api", index);
  app.all("/bigbluebutton/api/", index);
  // Webhook events and callbacks from BBB servers to front-ends pass through here (links signed with bbblb's key).
  app.post("/bigbluebutton/callback/hook/:hookID/:sig", (c) => relayHookEvent(ctx, c));
  app.on(
    ["GET", "POST"],
    "/bigbluebutton/callback/:kind/:historyId/:name/:sig",
    (c) => relayCallback(ctx, c),
  );
  // Recording uploads from BBB servers (central custody): outside the BBB API, so without its body limit and
  // request deadline; the body streams to disk.
  if (deps.recordings) {
    app.post(UPLOAD_PATH, (c) => uploadRecording(ctx, c));
    app.get(`${UPLOAD_PATH}/uploads/:id`, (c) => uploadStatus(ctx, c));
  }
  // rejoin is signed with bbblb's own link key, not with the API secret: it is not a BBB call.
  app.get("/bigbluebutton/api/rejoin", (c) => rejoin(ctx, c));
  // A BBB API call, step by step (the host guard and the log line above run first).
  app.all(
    "/bigbluebutton/api/:call{.+}",
    knownCall({ calls, refused: REFUSED }),
    deadline({ ms: requestTimeoutMs, slowMs: slowCallTimeoutMs, slowCalls: SLOW_CALLS }),
    verifiedRequest({ ctx, trustProxy: deps.trustProxy ?? false, maxBodyBytes, checksumAlgorithms }),
    tenantScope(ctx, deps.selfAddresses),
    runCall(ctx),
  );

  // Playback of the recordings in custody, on BBB's paths (last: only paths no other route answered).
  if (deps.recordings?.playback) {
    const trustProxy = deps.trustProxy ?? false;
    app.get(PLAYBACK_AUTH_PATH, (c) => playbackAuth(ctx, c, trustProxy));
    app.on(["GET", "HEAD"], "*", (c) => {
      const path = pathOf(c.req.raw);
      return isPlaybackPath(path) ? playbackRequest(ctx, c, path, trustProxy) : c.notFound();
    });
  }

  app.notFound((c) => {
    // The path only: a query string may carry checksums and passwords.
    ctx.log.debug("unknown path", {
      method: c.req.method,
      path: c.req.path,
      hint: unknownPathHint(c.req.path),
    });
    return plain(404, "not found");
  });

  app.onError((err, c) => {
    const call = c.req.path.slice(API.length);
    // A BBB server that failed a call bbblb passed on (already logged and counted against its health).
    if (err instanceof BackendError) err = serverUnavailable();
    if (err instanceof BbbError) {
      return JSON_CALLS.has(call)
        ? jsonFailed(err.messageKey, err.message)
        : failed(err.messageKey, err.message);
    }
    const problem = storeProblem(err);
    if (problem !== null) {
      // The store failed, not bbblb: no stack, one line an operator can act on, and a FAILED to try again.
      ctx.log.error("store unavailable", { path: c.req.path, problem });
      const message = `bbblb cannot use its store right now (${problem}); try again later.`;
      if (!c.req.path.startsWith("/bigbluebutton/")) return plain(503, message);
      return JSON_CALLS.has(call)
        ? jsonFailed("serverUnavailable", message)
        : failed("serverUnavailable", message);
    }
    ctx.log.error("internal error", { path: c.req.path, error: String(err?.stack ?? err) });
    if (!c.req.path.startsWith("/bigbluebutton/")) {
      return plain(500, "internal error: the administrator can find it in bbblb's log");
    }
    return failed(
      "internalError",
      "An internal error occurred; the administrator can find it in bbblb's log.",
    );
  });
  return app;
}
