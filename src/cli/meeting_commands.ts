/**
 * The command group of the running meetings: `panic` (move every meeting off a server) and `list-meetings`.
 *
 * @module
 */
import type { Command } from "commander";
import { kvPath } from "../config.ts";
import { openStore } from "../store/kv.ts";
import { ensureSchema } from "../store/schema.ts";
import { adminContext } from "./context.ts";
import { answeredOrAbandoned, kvOption, settingsEnv, withStore } from "./kit.ts";
import { listMeetingsCommand, panicCommand } from "./meetings.ts";

/** Add `panic` and `list-meetings` to the program. */
export function meetingCommands(cli: Command): void {
  cli.command("panic")
    .description("stop new meetings on a server and move every meeting running there to other servers")
    .argument("<id>", "server id")
    .addOption(kvOption())
    .action(async (id: string, o) => {
      const env = await settingsEnv();
      const kv = await openStore(kvPath(o.kv, env), false);
      await answeredOrAbandoned(kv, ensureSchema(kv));
      try {
        await panicCommand(await adminContext(kv, env), id, (line) => console.log(line));
      } finally {
        kv.close();
      }
    });

  cli.command("list-meetings")
    .description("list the running meetings with server, load, participants and age")
    .addOption(kvOption())
    .option("--server <id>", "only the meetings on this server")
    .option("--json", "print a JSON array")
    .action(async (o) => {
      await withStore(o.kv, (kv) => listMeetingsCommand(kv, { server: o.server, json: Boolean(o.json) }));
    });
}
