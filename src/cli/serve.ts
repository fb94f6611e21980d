/**
 * `bbblb serve`: the BBB API on one port, until SIGTERM or SIGINT.
 *
 * @module
 */
import { selfAddresses } from "../cluster/policy.ts";
import { createApp } from "../api/app.ts";
import { createMetrics } from "../api/metrics.ts";
import { clusterContext } from "../cluster/context.ts";
import { settleClaim, staleClaimMs } from "../cluster/lifecycle.ts";
import { runChores, runPoller } from "../poller/loop.ts";
import type { ServeConfig } from "../settings.ts";
import { createLogger, type Logger } from "../log.ts";
import { openStore, storeAnswers, storeProblem, StoreUnavailableError } from "../store/kv.ts";
import { ensureSchema } from "../store/schema.ts";
import { internalKey, resolveSecrets, savePublicUrl } from "../store/settings.ts";
import { CliError } from "./errors.ts";
import { Directory } from "../cluster/directory.ts";
import { MeetingLists } from "../cluster/fan_out.ts";
import { createsRecorded } from "../cluster/create.ts";
import { Custody } from "../recordings/custody.ts";
import { notifyRecordingReady } from "../recordings/ready.ts";
import { runRetention } from "../recordings/retention.ts";

/**
 * Run the server until SIGTERM/SIGINT: then finish the requests in flight, close the store and return.
 *
 * @param log where log lines go (default: per the config)
 */
export async function serve(
  config: ServeConfig,
  log: Logger = createLogger({ level: config.logLevel, format: config.logFormat }),
): Promise<void> {
  if (config.playbackPlayerDir !== null) {
    const index = `${config.playbackPlayerDir}/index.html`;
    if (!(await Deno.stat(index).then((st) => st.isFile, () => false))) {
      throw new CliError(
        `--playback-player-dir: ${index} is missing (copy /var/bigbluebutton/playback/presentation/2.3 from a BBB server)`,
      );
    }
  }
  const kv = await openStore(config.kv, true, (path) => log.info("created a new store", { path }));
  try {
    const schema = await storeAnswers(ensureSchema(kv));
    for (const step of schema.migrated) log.info("migrated the store", { step });
  } catch (e) {
    // A store that did not answer is left open: closing it would wait for the stuck read; the process exits.
    if (!(e instanceof StoreUnavailableError)) kv.close();
    throw e;
  }
  const secrets = await resolveSecrets(kv, config.secrets, (secret) => {
    console.error(`bbblb: generated the API secret (shown only now; it is kept in ${config.kv}):`);
    console.error(secret);
  });
  await savePublicUrl(kv, config.url);
  const metrics = createMetrics(kv, { recordingsDir: config.recordingsDir });
  // Central custody of recordings: uploads are imported in the background, and whatever a crash (or another
  // instance) left is picked up at start and by the minute chores.
  let custody: Custody | null = null;
  if (config.recordingsDir !== null) {
    custody = new Custody({
      kv,
      dir: config.recordingsDir,
      log,
      maxUploadBytes: config.maxRecordingUploadBytes,
      uploadGraceMs: config.recordingsUploadGraceDays * 24 * 3600_000,
      onOutcome: (ok) => metrics.observeImport(ok),
      onImported: (record) =>
        notifyRecordingReady(
          { kv, secrets: () => secrets, fetch, timeoutMs: config.backendTimeoutMs, log },
          record,
        ),
    });
    try {
      await custody.start();
    } catch (e) {
      kv.close();
      throw new CliError(
        `cannot use the recordings directory ${config.recordingsDir}: ${(e as Error).message}`,
      );
    }
    custody.kick();
  }
  const linkKey = await internalKey(kv, "link_key");
  // Joins are answered from memory; admin changes by other processes reach it within a second.
  const directory = new Directory(kv);
  // getMeetings lists a server late to answer as the last poll round saw it.
  const meetingLists = new MeetingLists();
  const app = createApp({
    directory,
    meetingLists,
    fanoutTimeoutMs: config.fanoutTimeoutMs,
    kv,
    secrets: () => secrets,
    backendTimeoutMs: config.backendTimeoutMs,
    failThreshold: config.failThreshold,
    failoverDelayMs: config.failoverDelayMs,
    createTimeoutMs: config.createTimeoutMs,
    publicUrl: config.url,
    logoutUrl: config.logoutUrl,
    linkKey,
    cookieKey: await internalKey(kv, "cookie_key"),
    log,
    metrics,
    adminToken: config.adminToken,
    trustProxy: config.trustProxy,
    selfAddresses: selfAddresses({
      listenHost: config.host,
      port: config.port,
      publicUrl: config.url,
      kv: config.kv,
      interfaces: Deno.networkInterfaces().map((i) => i.address),
    }),
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    checksumAlgorithms: config.checksumAlgorithms,
    recordings: custody
      ? {
        custody,
        routedFallback: config.recordingsRoutedFallback,
        playback: {
          playerDir: config.playbackPlayerDir,
          protectedByDefault: config.protectedRecordings,
          linkMinutes: config.recordingLinkMinutes,
          key: await internalKey(kv, "playback_key"),
        },
      }
      : undefined,
    voiceBridgeDigits: config.voiceBridgeDigits,
    dialNumber: config.dialNumber ?? undefined,
    fsapi: {
      password: config.fsapiPassword,
      pinTries: config.fsapiPinTries,
      pinTimeoutMs: config.fsapiPinTimeoutMs,
      maxDurationMinutes: config.fsapiMaxDurationMinutes,
    },
  });
  const stop = new AbortController();
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: config.host,
      port: config.port,
      signal: stop.signal,
      onListen: ({ hostname, port }) => {
        log.info("listening", {
          address: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
          url: config.url,
        });
      },
    }, app.fetch);
  } catch (e) {
    kv.close();
    throw new CliError(`cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`);
  }
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  const poller = runPoller({
    kv,
    log,
    owner: crypto.randomUUID(),
    intervalMs: config.pollIntervalSeconds * 1000,
    backendTimeoutMs: config.backendTimeoutMs,
    failThreshold: config.failThreshold,
    recoverThreshold: config.recoverThreshold,
    missedRounds: config.missedRounds,
    overdueGraceMinutes: config.overdueGraceMinutes,
    staleClaimMs: staleClaimMs(config.createTimeoutMs),
    signal: stop.signal,
    onRound: (report) => {
      metrics.observeRound(report);
      directory.forgetAll();
    },
    links: { publicUrl: config.url, linkKey },
    onMeetingList: (server, text) => meetingLists.remember(server, text),
  });
  // The chores settle claims by asking their servers, with the same settings as the API.
  const cluster = clusterContext({
    kv,
    log,
    publicUrl: config.url,
    linkKey,
    backendTimeoutMs: config.backendTimeoutMs,
    failThreshold: config.failThreshold,
    failoverDelayMs: config.failoverDelayMs,
    createTimeoutMs: config.createTimeoutMs,
  });
  // Minute-level chores; Deno.cron cannot run more often, and skips a run while the previous one still goes.
  const cron = Deno.cron("bbblb chores", "* * * * *", { signal: stop.signal }, async () => {
    try {
      await runChores({
        kv,
        log,
        staleClaimMs: staleClaimMs(config.createTimeoutMs),
        settle: (claim) => settleClaim(cluster, claim),
      });
      await custody?.chores();
      if (custody) {
        await runRetention({
          kv,
          dir: custody.dir,
          log,
          keepDeletedDays: config.recordingsKeepDeletedDays,
          owner: custody.owner,
        });
      }
    } catch (e) {
      log.error("chores failed", { error: storeProblem(e) ?? String((e as Error)?.message ?? e) });
    }
  });
  // In-flight requests finish first (Deno.serve's graceful shutdown), then the poller's round, then the store.
  await server.finished;
  await poller;
  await cron.catch(() => {});
  await custody?.idle();
  // Creates answered in the last moment get BBB's answer into the store before it closes.
  await createsRecorded();
  Deno.removeSignalListener("SIGTERM", onSignal);
  Deno.removeSignalListener("SIGINT", onSignal);
  kv.close();
  log.info("stopped");
}
