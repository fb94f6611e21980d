/**
 * The command line of bbblb as one commander program: the root command and its groups, each registered by its
 * own module (`*_commands.ts`) in the order `bbblb --help` lists them.
 *
 * @module
 */
import { Command } from "commander";
import denoJson from "../../deno.json" with { type: "json" };
import { backupCommands } from "./backup_commands.ts";
import { CliError } from "./errors.ts";
import { meetingCommands } from "./meeting_commands.ts";
import { recordingCommands } from "./recording_commands.ts";
import { serverCommands } from "./server_commands.ts";
import { serviceCommands } from "./service_commands.ts";
import { tenantCommands } from "./tenant_commands.ts";

/**
 * The command line, as a commander program. Usage errors are printed as one line and thrown as
 * `CommanderError` (`exitOverride`), for `main` to turn into an exit status.
 */
export function program(): Command {
  const cli = new Command("bbblb")
    .description("A load balancer for BigBlueButton: one BBB API in front of many BBB servers.")
    .version(denoJson.version, "-V, --version")
    .showHelpAfterError(false)
    .exitOverride()
    // Usage errors are one line with the prefix of every other error (commander writes "error: …").
    .configureOutput({
      outputError: (s, write) =>
        write(s.split("\n").filter((l) => l.trim())[0].replace(/^error: /, "bbblb: ") + "\n"),
    });
  for (
    const group of [
      serviceCommands,
      serverCommands,
      meetingCommands,
      tenantCommands,
      recordingCommands,
      backupCommands,
    ]
  ) group(cli);
  // A group named without its subcommand is a usage error in one line, not the group's help on stderr.
  for (const group of cli.commands.filter((c) => c.commands.length > 0)) {
    const names = group.commands.map((c) => c.name()).filter((n) => n !== "help").join("|");
    group.action(() => {
      throw new CliError(
        `${group.name()} needs a subcommand: bbblb ${group.name()} ${names} (see --help)`,
        2,
      );
    });
  }
  return cli;
}
