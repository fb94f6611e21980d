/**
 * The cluster context of admin subcommands that talk to BBB servers (`panic`): the same settings as `serve`,
 * from the environment, and the public URL and link key `serve` keeps in the store, so moved meetings get the
 * same rejoin links whichever process moved them.
 *
 * @module
 */
import { type ClusterContext, clusterContext } from "../cluster/context.ts";
import { createLogger } from "../log.ts";
import { internalKey, publicUrlOf } from "../store/settings.ts";
import { serveConfig } from "../config.ts";

/** Build the cluster context for an admin subcommand on `kv`. */
export async function adminContext(
  kv: Deno.Kv,
  env: (name: string) => string | undefined,
): Promise<ClusterContext> {
  const config = serveConfig({}, env);
  return clusterContext({
    kv,
    backendTimeoutMs: config.backendTimeoutMs,
    failThreshold: config.failThreshold,
    failoverDelayMs: config.failoverDelayMs,
    createTimeoutMs: config.createTimeoutMs,
    log: createLogger({ level: "warn", format: config.logFormat }),
    publicUrl: (await publicUrlOf(kv)) ?? config.url,
    linkKey: await internalKey(kv, "link_key"),
  });
}
