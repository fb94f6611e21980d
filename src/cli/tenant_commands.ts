/**
 * The `bbblb tenant` command group (add, list, remove, set), registered on the program like every group.
 *
 * @module
 */
import type { Command } from "commander";
import { collect, kvOption, readStdin, settingsEnv, withStore } from "./kit.ts";
import {
  addTenantCommand,
  globalSecretsOf,
  listTenantsCommand,
  removeTenantCommand,
  setTenantCommand,
} from "./tenants.ts";

/** Add the `tenant` group (add, list, remove, set) to the program. */
export function tenantCommands(cli: Command): void {
  const tenant = cli.command("tenant");
  tenant.description("manage tenants: front-ends with their own secrets, host, rules and limits");
  const globalSecrets = async (kv: Deno.Kv) => globalSecretsOf(kv, (await settingsEnv())("BBBLB_SECRET"));

  tenant.command("add")
    .description("add a tenant; without --secret one is generated and printed once")
    .argument("<name>", "a-z, 0-9 and -, at most 32 characters")
    .addOption(kvOption())
    .option("--secret <secret>", "an API secret of the tenant (repeatable; - reads stdin)", collect, [])
    .option("--host <host>", "the host name its front-end calls bbblb by")
    .action(async (name: string, o) => {
      await withStore(o.kv, async (kv) =>
        addTenantCommand(kv, {
          name,
          secrets: o.secret,
          host: o.host,
          globalSecrets: await globalSecrets(kv),
          readStdin,
        }));
    });

  tenant.command("list")
    .description("list the tenants with host, number of secrets, rules, limits and meetings (never secrets)")
    .addOption(kvOption())
    .option("--json", "print a JSON array")
    .action(async (o) => {
      await withStore(o.kv, (kv) => listTenantsCommand(kv, Boolean(o.json)));
    });

  tenant.command("remove")
    .description("remove a tenant; refused while it has running meetings unless --force")
    .argument("<name>", "tenant name")
    .addOption(kvOption())
    .option("--force", "remove it even though meetings run (they keep running, unreachable through bbblb)")
    .action(async (name: string, o) => {
      await withStore(o.kv, (kv) => removeTenantCommand(kv, name, Boolean(o.force)));
    });

  tenant.command("set")
    .description("change a tenant (NAME default: the default tenant's rules, limits and default tag)")
    .argument("<name>", "tenant name, or default")
    .addOption(kvOption())
    .option("--secret <secret>", "replace every secret (repeatable; - reads stdin)", collect, [])
    .option("--add-secret <secret>", "add a secret (repeatable; - reads stdin)", collect, [])
    .option("--remove-secret <secret>", "remove a secret (repeatable)", collect, [])
    .option("--host <host>", "the host name its front-end calls bbblb by")
    .option("--no-host", "no host: the tenant is recognised by its secrets only")
    .option("--default-tag <tag>", "meta_server-tag for its creates that carry none")
    .option("--no-default-tag", "no default tag")
    .option("--create-force <k=v>", "create parameter k is always v (repeatable)", collect, [])
    .option("--create-default <k=v>", "create parameter k is v when absent (repeatable)", collect, [])
    .option("--create-remove <k>", "create parameter k is removed (repeatable)", collect, [])
    .option(
      "--create-cap <k=N>",
      "create parameter k is at most N, and N when absent (repeatable)",
      collect,
      [],
    )
    .option("--join-force <k=v>", "join parameter k is always v (repeatable)", collect, [])
    .option("--join-default <k=v>", "join parameter k is v when absent (repeatable)", collect, [])
    .option("--join-remove <k>", "join parameter k is removed (repeatable)", collect, [])
    .option("--join-cap <k=N>", "join parameter k is at most N, and N when absent (repeatable)", collect, [])
    .option("--clear-rules", "remove every create and join rule first")
    .option("--max-meetings <n>", "most meetings running at once, or none")
    .option("--max-participants <n>", "most participants in its meetings together, or none")
    .option("--block <param>", "refuse creates and joins carrying this parameter (repeatable)", collect, [])
    .option("--unblock <param>", "no longer refuse this parameter (repeatable)", collect, [])
    .option(
      "--url-host <host>",
      "allow URLs BBB or browsers fetch on this host (repeatable; *.domain)",
      collect,
      [],
    )
    .option("--any-url-host", "allow URLs on any host again (the default)")
    .option(
      "--callback-host <host>",
      "allow callbacks bbblb makes to this host (repeatable; *.domain)",
      collect,
      [],
    )
    .option("--any-callback-host", "allow callbacks to any host but bbblb's own again (the default)")
    .option("--protected-recordings <on|off|inherit>", "its recordings need a grant (inherit: as serve says)")
    .option(
      "--delete-recordings-after <days>",
      "delete its recordings this many days after their start, or none",
    )
    .action(async (name: string, o) => {
      await withStore(o.kv, async (kv) =>
        setTenantCommand(kv, {
          name,
          secrets: o.secret,
          addSecrets: o.addSecret,
          removeSecrets: o.removeSecret,
          host: typeof o.host === "string" ? o.host : undefined,
          noHost: o.host === false,
          defaultTag: typeof o.defaultTag === "string" ? o.defaultTag : undefined,
          noDefaultTag: o.defaultTag === false,
          createForce: o.createForce,
          createDefault: o.createDefault,
          createRemove: o.createRemove,
          createCap: o.createCap,
          joinForce: o.joinForce,
          joinDefault: o.joinDefault,
          joinRemove: o.joinRemove,
          joinCap: o.joinCap,
          clearRules: Boolean(o.clearRules),
          maxMeetings: o.maxMeetings,
          maxParticipants: o.maxParticipants,
          policy: {
            block: o.block,
            unblock: o.unblock,
            urlHosts: o.urlHost,
            anyUrlHost: Boolean(o.anyUrlHost),
            callbackHosts: o.callbackHost,
            anyCallbackHost: Boolean(o.anyCallbackHost),
          },
          protectedRecordings: o.protectedRecordings,
          deleteRecordingsAfter: o.deleteRecordingsAfter,
          globalSecrets: await globalSecrets(kv),
          readStdin,
        }));
    });
}
