/**
 * Test harness: an in-process bbblb app on an in-memory KV in front of fake BBB servers on real sockets.
 *
 * @module
 */
import type { SelfAddress } from "../src/cluster/policy.ts";
import type { FsapiSettings } from "../src/api/fsapi.ts";
import { createHash } from "node:crypto";
import { createApp } from "../src/api/app.ts";
import { createMetrics, type Metrics } from "../src/api/metrics.ts";
import { type ClusterContext, clusterContext } from "../src/cluster/context.ts";
import { encodeQuery } from "../src/bbb/query.ts";
import { type Logger, silentLogger } from "../src/log.ts";
import { type PollDeps, pollRound, type PollState } from "../src/poller/round.ts";
import { listAllMeetings } from "../src/store/meetings.ts";
import { addServer, listServers, type ServerRecord } from "../src/store/servers.ts";
import { FakeBbb } from "./fake_bbb.ts";
import { Directory } from "../src/cluster/directory.ts";
import { createsRecorded } from "../src/cluster/create.ts";
import type { MeetingLists } from "../src/cluster/fan_out.ts";
import type { ChecksumAlgorithm } from "../src/bbb/checksum.ts";
import { Custody } from "../src/recordings/custody.ts";
import { notifyRecordingReady } from "../src/recordings/ready.ts";
import type { PlaybackSettings } from "../src/recordings/access.ts";

/** The API secret of the app under test. */
export const SECRET = "bbblb-test-secret-0123456789";

/** Sign a query for bbblb (sha256 unless told otherwise). */
export function sign(call: string, query: string, secret = SECRET, algo = "sha256"): string {
  const sum = createHash(algo).update(call + query + secret).digest("hex");
  return query === "" ? `checksum=${sum}` : `${query}&checksum=${sum}`;
}

/** A running harness. */
export interface Harness extends AsyncDisposable {
  kv: Deno.Kv;
  /** The cluster context the app runs with (for admin operations such as panic). */
  ctx: ClusterContext;
  app: ReturnType<typeof createApp>;
  /** The app's metrics (feed poll rounds with `metrics.observeRound`). */
  metrics: Metrics;
  fakes: FakeBbb[];
  /** Call the app with signed parameters (encoded with encodeURIComponent). */
  call(call: string, params?: Record<string, string>): Promise<Response>;
  /** Call and return the body text. */
  text(call: string, params?: Record<string, string>): Promise<string>;
  /** Central custody, when `recordingsDir` was given. */
  custody: Custody | null;
}

/** Options of {@linkcode setup}. */
export interface SetupOptions {
  /** Number of fake servers, with ids 1..n. @default 3 */
  servers?: number;
  /** Backend timeout in ms. @default 1000 */
  backendTimeoutMs?: number;
  /** Passed to createApp. */
  maxBodyBytes?: number;
  /** Passed to createApp. @default null */
  logoutUrl?: string | null;
  /** Passed to createApp. @default null (operator endpoints open) */
  adminToken?: string | null;
  /** Passed to createApp. @default 10 */
  statusRefreshSeconds?: number;
  /** The app's logger. @default silent */
  log?: Logger;
  /** Passed to createApp. @default false */
  trustProxy?: boolean;
  /** Passed to createApp. @default none */
  selfAddresses?: SelfAddress[];
  /** Answer joins from an in-memory directory, as `serve` does. @default false */
  directory?: boolean;
  /** Passed to createApp. @default 30 000 */
  requestTimeoutMs?: number;
  /** Passed to createApp and the cluster context. @default 0: a server that fails is gone at once */
  failoverDelayMs?: number;
  /** Passed to createApp and the cluster context. @default 15 000 */
  createTimeoutMs?: number;
  /** Passed to createApp and the cluster context. @default 2 */
  failThreshold?: number;
  /** Passed to createApp. @default all four */
  checksumAlgorithms?: readonly ChecksumAlgorithm[];
  /** Central custody of recordings in this directory (a temp dir the caller removes). @default routed */
  recordingsDir?: string;
  /** With `recordingsDir`: look up unknown recordIDs on the servers. @default true */
  routedFallback?: boolean;
  /** With `recordingsDir`: `--max-recording-upload`. @default 10 GiB */
  maxRecordingUploadBytes?: number;
  /** With `recordingsDir`: the fetch that sends recording-ready callbacks. @default fetch */
  fetch?: typeof fetch;
  /**
   * With `recordingsDir`: serve the playback files with these settings (a random key unless given). @default not
   * served
   */
  playback?: Partial<PlaybackSettings>;
  /** Passed to createApp. @default 5 */
  voiceBridgeDigits?: number;
  /** Passed to createApp. @default none */
  dialNumber?: string;
  /** Passed to createApp. @default off */
  fsapi?: FsapiSettings;
  /** Passed to createApp. @default 2000 */
  fanoutTimeoutMs?: number;
  /** Passed to createApp. @default a new one */
  meetingLists?: MeetingLists;
}

/** bbblb's public URL in harness apps. */
export const PUBLIC_URL = "http://bbblb.test";

/** Start fakes, register them, and build the app. */
export async function setup(options: SetupOptions = {}): Promise<Harness> {
  const kv = await Deno.openKv(":memory:");
  const fakes: FakeBbb[] = [];
  for (let i = 1; i <= (options.servers ?? 3); i++) {
    const fake = await FakeBbb.start({ secret: `fake-secret-${i}` });
    fakes.push(fake);
    await addServer(kv, {
      id: i,
      apiUrl: fake.apiUrl,
      secret: fake.secret,
      weight: 1,
      state: "enabled",
      checksum: (["sha1", "sha256", "sha384", "sha512"] as const)[i % 4],
      addedAt: 0,
    });
  }
  const linkKey = crypto.getRandomValues(new Uint8Array(32));
  const backendTimeoutMs = options.backendTimeoutMs ?? 1000;
  const metrics = createMetrics(kv, { recordingsDir: options.recordingsDir });
  const directory = options.directory ? new Directory(kv) : undefined;
  let custody: Custody | null = null;
  if (options.recordingsDir) {
    custody = new Custody({
      kv,
      dir: options.recordingsDir,
      log: options.log ?? silentLogger,
      maxUploadBytes: options.maxRecordingUploadBytes ?? 10 * 1024 ** 3,
      uploadGraceMs: 7 * 24 * 3600_000,
      onOutcome: (ok) => metrics.observeImport(ok),
      onImported: (record) =>
        notifyRecordingReady({
          kv,
          secrets: () => [SECRET],
          fetch: options.fetch ?? fetch,
          timeoutMs: backendTimeoutMs,
          log: options.log ?? silentLogger,
        }, record),
    });
    await custody.start();
  }
  const app = createApp({
    directory,
    kv,
    secrets: () => [SECRET],
    backendTimeoutMs,
    failoverDelayMs: options.failoverDelayMs ?? 0,
    createTimeoutMs: options.createTimeoutMs,
    failThreshold: options.failThreshold,
    maxBodyBytes: options.maxBodyBytes,
    requestTimeoutMs: options.requestTimeoutMs,
    publicUrl: PUBLIC_URL,
    logoutUrl: options.logoutUrl ?? null,
    linkKey,
    metrics,
    adminToken: options.adminToken ?? null,
    statusRefreshSeconds: options.statusRefreshSeconds,
    log: options.log,
    trustProxy: options.trustProxy,
    selfAddresses: options.selfAddresses,
    checksumAlgorithms: options.checksumAlgorithms,
    tenantCacheMs: 0, // tests change tenants between requests
    recordings: custody
      ? {
        custody,
        routedFallback: options.routedFallback ?? true,
        playback: options.playback && {
          playerDir: null,
          protectedByDefault: false,
          linkMinutes: 60,
          key: crypto.getRandomValues(new Uint8Array(32)),
          ...options.playback,
        },
      }
      : undefined,
    fetch: options.fetch,
    voiceBridgeDigits: options.voiceBridgeDigits,
    dialNumber: options.dialNumber,
    fsapi: options.fsapi,
    fanoutTimeoutMs: options.fanoutTimeoutMs,
    meetingLists: options.meetingLists,
  });
  const ctx = clusterContext({
    kv,
    backendTimeoutMs,
    failThreshold: options.failThreshold,
    failoverDelayMs: options.failoverDelayMs ?? 0,
    createTimeoutMs: options.createTimeoutMs,
    log: silentLogger,
    publicUrl: PUBLIC_URL,
    linkKey,
    directory,
  });
  const call = async (name: string, params: Record<string, string> = {}) => {
    const res = await app.request(
      `/bigbluebutton/api/${name}?${sign(name, encodeQuery(Object.entries(params)))}`,
    );
    // A create's BBB answer is recorded just after the answer: tests read the store as it then stands.
    await createsRecorded();
    return res;
  };
  return {
    kv,
    ctx,
    app,
    metrics,
    fakes,
    call,
    text: async (name, params) => await (await call(name, params)).text(),
    custody,
    async [Symbol.asyncDispose]() {
      await custody?.idle();
      await createsRecorded();
      await Promise.all(fakes.map((f) => f.close()));
      kv.close();
    },
  };
}

/**
 * An in-memory store with servers 1..`count` registered (enabled, weight 1, SHA-256, on unused local URLs), for
 * tests that need servers in the store but no BBB to call.
 */
export async function storeWithServers(
  count: number,
  change: (id: number) => Partial<ServerRecord> = () => ({}),
): Promise<Deno.Kv> {
  const kv = await Deno.openKv(":memory:");
  for (let id = 1; id <= count; id++) {
    await addServer(kv, {
      id,
      apiUrl: `http://127.0.0.1:${id}/bigbluebutton/api/`,
      secret: `secret-${id}`,
      weight: 1,
      state: "enabled",
      checksum: "sha256",
      addedAt: 0,
      ...change(id),
    });
  }
  return kv;
}

/** The text of an element in an XML answer (first occurrence), or undefined. */
export function tag(xml: string, name: string): string | undefined {
  return xml.match(new RegExp(`<${name}>([^<]*)</${name}>`))?.[1];
}

/** Which fake holds a meeting, by index, or -1. */
export function holder(fakes: FakeBbb[], meetingID: string): number {
  return fakes.findIndex((f) => f.meetings.has(meetingID));
}

/** Options of {@linkcode poll} and {@linkcode pollDeps}. */
export interface PollOptions {
  failThreshold?: number;
  recoverThreshold?: number;
  backendTimeoutMs?: number;
  missedRounds?: number;
  staleClaimMs?: number;
  state?: PollState;
  /** The round's clock. @default Date.now */
  now?: () => number;
  /** @default silent */
  log?: Logger;
  /** @default 10 */
  overdueGraceMinutes?: number;
}

/** The poller's dependencies on a harness's store. */
export function pollDeps(h: Harness, options: PollOptions = {}): PollDeps {
  return {
    kv: h.kv,
    backendTimeoutMs: options.backendTimeoutMs ?? 500,
    failThreshold: options.failThreshold ?? 2,
    recoverThreshold: options.recoverThreshold ?? 2,
    missedRounds: options.missedRounds,
    staleClaimMs: options.staleClaimMs,
    state: options.state,
    now: options.now,
    overdueGraceMinutes: options.overdueGraceMinutes,
    log: options.log ?? silentLogger,
    links: { publicUrl: h.ctx.publicUrl, linkKey: h.ctx.linkKey },
  };
}

/** Run one poll round on a harness's store. */
export async function poll(h: Harness, options: PollOptions = {}) {
  return await pollRound(pollDeps(h, options));
}

/** Assert the store's invariant: every load sum equals the declared load of the meetings on that server. */
export async function assertLoadsExact(kv: Deno.Kv): Promise<void> {
  const meetings = await listAllMeetings(kv);
  for (const s of await listServers(kv)) {
    const expected = meetings.filter((m) => m.value.serverId === s.id).reduce(
      (n, m) => n + m.value.loadMilli,
      0,
    );
    if (expected !== s.loadMilli) {
      throw new Error(`server ${s.id}: load ${s.loadMilli} but meetings sum ${expected}`);
    }
  }
}
