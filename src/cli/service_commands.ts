/**
 * The command group that runs the service: `bbblb serve`, `bbblb config` (what serve would run with) and
 * `bbblb install` (the systemd service from the binary alone).
 *
 * @module
 */
import { type Command, Option } from "commander";
import { helpLine, readConfigFile, serveConfig, type ServeFlags } from "../config.ts";
import { SETTINGS } from "../settings.ts";
import { configCommand } from "./config.ts";
import { installCommand } from "./install.ts";
import { announceNewStore, processEnv, settingsEnv } from "./kit.ts";
import { serve } from "./serve.ts";

/** The options of `serve` (and `config`, which shows what `serve` would run with): one per setting. */
function serveOptions(): Option[] {
  return [
    new Option(
      "--config <file>",
      "env-style file of BBBLB_* settings, under the environment (env BBBLB_CONFIG)",
    ),
    ...SETTINGS.map((s) => new Option(s.arg ? `${s.flag} ${s.arg}` : s.flag, helpLine(s))),
  ];
}

/** Add `serve`, `config` and `install` to the program. */
export function serviceCommands(cli: Command): void {
  const serveCmd = cli.command("serve")
    .description("serve the BBB API (and poll the servers) until SIGTERM or SIGINT");
  serveOptions().forEach((o) => serveCmd.addOption(o));
  serveCmd.action(async (flags: ServeFlags & { config?: string }) => {
    await serve(serveConfig(flags, await settingsEnv(flags.config)));
  });

  const configCmd = cli.command("config")
    .description(
      "print the effective settings of serve and the config file and store they come from; secrets masked",
    );
  serveOptions().forEach((o) => configCmd.addOption(o));
  configCmd.option("--show-secrets", "print the secrets unmasked (as bbb-conf --secret does for BBB)");
  configCmd.action(async (flags: ServeFlags & { config?: string; showSecrets?: boolean }) => {
    const { showSecrets, config, ...serveFlags } = flags;
    console.log(
      await configCommand(serveFlags, processEnv, await readConfigFile(config, processEnv), {
        showSecrets: Boolean(showSecrets),
      }),
    );
  });

  cli.command("install")
    .description("lay out the systemd service: unit, /etc/bbblb/bbblb.env with a generated secret, the store")
    .option("--root <dir>", "prefix every path with DIR (an image being built, a test)", "")
    .option("--url <url>", "bbblb's public URL for BBBLB_URL (default https://THIS-HOST)")
    .option("--dry-run", "print what would be done and write nothing")
    .option("--force", "replace a unit that differs from this bbblb's (the env file is never replaced)")
    .action(async (o) => {
      console.log(
        await installCommand({
          root: o.root,
          url: o.url,
          dryRun: Boolean(o.dryRun),
          force: Boolean(o.force),
          executable: Deno.build.standalone
            ? Deno.execPath()
            : decodeURIComponent(new URL("../../bbblb", import.meta.url).pathname),
          onCreate: announceNewStore,
        }),
      );
    });
}
