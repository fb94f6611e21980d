/**
 * Prometheus metrics of one bbblb instance, kept with `prom-client` in a registry of its own (no globals, so
 * tests and several apps in one process never share counts). Per-server gauges are read from the store at each
 * scrape; API calls and poll rounds are counted as they happen in this instance.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RoundReport } from "../poller/round.ts";
import { listAllMeetings, listSplits } from "../store/meetings.ts";
import { listServers, SERVER_STATES, serverVersion } from "../store/servers.ts";
import { recordingStats } from "../store/recordings.ts";
import { statfs } from "node:fs/promises";

/** The metrics of one instance. */
export interface Metrics {
  /** The registry (its `contentType` is the Content-Type of the text format). */
  readonly registry: Registry;
  /**
   * Count one API call.
   *
   * @param call the call name, already bounded to the known calls (others as `other`)
   * @param returncode `SUCCESS`, `FAILED`, `redirect` (a join's 302) or `none`
   * @param seconds how long bbblb took to answer
   */
  observeApiCall(call: string, returncode: string, seconds: number): void;
  /** Count one poll round this instance ran (the poller's `onRound` hook). */
  observeRound(report: RoundReport): void;
  /** Count one format of an uploaded recording imported (`true`) or failed (`false`) by this instance. */
  observeImport(ok: boolean): void;
  /** Refresh the per-server gauges from the store and render everything in the Prometheus text format. */
  render(): Promise<string>;
}

/** Buckets of the API latency histogram, in seconds: from a store-only answer to a slow backend. */
const API_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Buckets of the poll round histogram, in seconds. */
const ROUND_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

/**
 * Create the metrics of an instance reading the store `kv`.
 *
 * @example
 * ```ts
 * import { createMetrics } from "./metrics.ts";
 * const kv = await Deno.openKv(":memory:");
 * const metrics = createMetrics(kv);
 * metrics.observeApiCall("create", "SUCCESS", 0.012);
 * if (!(await metrics.render()).includes('bbblb_api_requests_total{call="create",returncode="SUCCESS"} 1')) {
 *   throw new Error();
 * }
 * kv.close();
 * ```
 */
export function createMetrics(kv: Deno.Kv, options: { recordingsDir?: string | null } = {}): Metrics {
  const registry = new Registry();
  const server = (name: string, help: string, labels: string[] = ["server"]) =>
    new Gauge({ name, help, labelNames: labels, registers: [registry] });
  const online = server(
    "bbblb_server_online",
    "1 when the server is online (not offline after failed polls)",
  );
  const state = server(
    "bbblb_server_state",
    "1 for the server's admin state (enabled, cordoned, disabled, panic), 0 for the others",
    ["server", "state"],
  );
  const meetings = server("bbblb_server_meetings", "Meetings bbblb placed on the server (or adopted)");
  const participants = server(
    "bbblb_server_participants",
    "Participants in all meetings on the server, at the last poll",
  );
  const videos = server(
    "bbblb_server_videos",
    "Video streams in all meetings on the server, at the last poll",
  );
  const load = server("bbblb_server_load", "Sum of the declared load of the server's meetings");
  const effective = server(
    "bbblb_server_effective_load",
    "Load placement uses: the sum of max(declared load, participants + videos) of its meetings",
  );
  const weight = server("bbblb_server_weight", "The server's relative capacity");
  const version = server(
    "bbblb_server_bbb_version_info",
    "1, labelled with the BBB version bbblb goes by (revealed by the server, else --bbb-version; absent: unknown)",
    ["server", "version"],
  );
  const failures = server("bbblb_server_poll_failures", "Consecutive failed polls (and request-path calls)");
  const lastGood = server(
    "bbblb_server_last_good_poll_timestamp_seconds",
    "When the last good poll of the server ended (Unix time; absent before the first)",
  );
  const servers = new Gauge({ name: "bbblb_servers", help: "Registered servers", registers: [registry] });
  const splits = new Gauge({
    name: "bbblb_split_meetings",
    help: "Meetings found running on more than one server (as of the last poll round); bbblb heals them",
    registers: [registry],
  });
  const requests = new Counter({
    name: "bbblb_api_requests_total",
    help: "BBB API calls answered by this instance, by call and returncode",
    labelNames: ["call", "returncode"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "bbblb_api_request_duration_seconds",
    help: "Time to answer a BBB API call, by call",
    labelNames: ["call"],
    buckets: API_BUCKETS,
    registers: [registry],
  });
  const rounds = new Histogram({
    name: "bbblb_poll_round_duration_seconds",
    help: "Duration of the poll rounds this instance ran (only the lease holder polls)",
    buckets: ROUND_BUCKETS,
    registers: [registry],
  });
  const serverPoll = new Gauge({
    name: "bbblb_server_poll_duration_seconds",
    help: "How long the server took to answer (or fail) its getMeetings call in the last poll round here",
    labelNames: ["server"],
    registers: [registry],
  });
  const roundFailed = new Gauge({
    name: "bbblb_poll_round_failed_servers",
    help: "Servers that failed in the last poll round this instance ran",
    registers: [registry],
  });

  const imports = new Counter({
    name: "bbblb_recording_imports_total",
    help: "Formats of uploaded recordings this instance imported, by result (imported, failed)",
    labelNames: ["result"],
    registers: [registry],
  });
  const recordingsDir = options.recordingsDir ?? null;
  const recordings = recordingsDir === null ? null : {
    count: new Gauge({
      name: "bbblb_recordings",
      help: "Recordings in central custody",
      registers: [registry],
    }),
    bytes: new Gauge({
      name: "bbblb_recordings_bytes",
      help: "Bytes of the files of the recordings in central custody",
      registers: [registry],
    }),
    free: new Gauge({
      name: "bbblb_recordings_free_bytes",
      help: "Free bytes on the filesystem of the recordings directory (for unprivileged users)",
      registers: [registry],
    }),
  };

  const perServer = [
    online,
    state,
    meetings,
    participants,
    videos,
    load,
    effective,
    weight,
    version,
    failures,
    lastGood,
  ];

  const counters = new Map<string, { inc(): void }>();
  const timers = new Map<string, { observe(value: number): void }>();
  return {
    registry,
    observeApiCall(call, returncode, seconds) {
      // The labelled children are kept: looking them up by a labels object on every call cost more than the
      // counting itself (the labels are few: known call names and returncodes).
      const key = `${call}\u0000${returncode}`;
      let counter = counters.get(key);
      if (!counter) counters.set(key, counter = requests.labels({ call, returncode }));
      let timer = timers.get(call);
      if (!timer) timers.set(call, timer = latency.labels({ call }));
      counter.inc();
      timer.observe(seconds);
    },
    observeRound(report) {
      rounds.observe(report.durationMs / 1000);
      roundFailed.set(report.failedServers);
      serverPoll.reset(); // a removed server disappears
      for (const [id, ms] of Object.entries(report.serverDurationsMs)) {
        serverPoll.set({ server: id }, ms / 1000);
      }
    },
    observeImport(ok) {
      imports.inc({ result: ok ? "imported" : "failed" });
    },
    async render() {
      const [list, all, split] = await Promise.all([listServers(kv), listAllMeetings(kv), listSplits(kv)]);
      splits.set(new Set(split.map((x) => `${x.tenant}\u0000${x.meetingID}`)).size);
      if (recordings && recordingsDir !== null) {
        const stats = await recordingStats(kv);
        recordings.count.set(stats.count);
        recordings.bytes.set(stats.bytes);
        try {
          const fs = await statfs(recordingsDir);
          recordings.free.set(Number(fs.bavail) * Number(fs.bsize));
        } catch {
          recordings.free.reset();
        }
      }
      const counts = new Map<number, number>();
      for (const m of all) counts.set(m.value.serverId, (counts.get(m.value.serverId) ?? 0) + 1);
      // Reset first, so a removed server disappears instead of reporting its last values for ever.
      for (const g of perServer) g.reset();
      servers.set(list.length);
      for (const s of list) {
        const id = { server: String(s.id) };
        online.set(id, s.online ? 1 : 0);
        for (const st of SERVER_STATES) state.set({ ...id, state: st }, s.state === st ? 1 : 0);
        meetings.set(id, counts.get(s.id) ?? 0);
        participants.set(id, s.stats.participants);
        videos.set(id, s.stats.videos);
        load.set(id, s.loadMilli / 1000);
        effective.set(id, (s.loadMilli + s.stats.extraMilli) / 1000);
        weight.set(id, s.weight);
        const v = serverVersion(s);
        if (v !== null) version.set({ ...id, version: v }, 1);
        failures.set(id, s.health.failures);
        if (s.health.lastGoodPoll !== null) lastGood.set(id, s.health.lastGoodPoll / 1000);
      }
      return await registry.metrics();
    },
  };
}
