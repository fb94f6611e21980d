/**
 * The command group of the servers: `add-server`, `set-server`, `list-servers`, `enable`, `disable`, `cordon`,
 * `remove-server` and `sync-servers` (the servers as a file says).
 *
 * @module
 */
import type { Command } from "commander";
import { kvPath } from "../config.ts";
import {
  checksumOption,
  collect,
  hooksChecksumOption,
  kvOption,
  readStdin,
  settingsEnv,
  withStore,
} from "./kit.ts";
import { CliError } from "./errors.ts";
import {
  addServerCommand,
  listServersCommand,
  removeServerCommand,
  setServerCommand,
  setStateCommand,
} from "./servers.ts";
import { syncServersCommand } from "./sync_servers.ts";

/** Add the server commands to the program. */
export function serverCommands(cli: Command): void {
  cli.command("add-server")
    .description(
      "register a BBB server (URL and secret as `bbb-conf --secret` prints them; SECRET - reads stdin)",
    )
    .argument("<id>", "a non-negative integer chosen by you")
    .argument("<url>", "e.g. https://bbb1.example.org/bigbluebutton/")
    .argument("<secret>", "the server's shared secret, or - to read it from stdin")
    .addOption(kvOption())
    .option("--weight <w>", "relative capacity (default 1)")
    .option("--tag <tag>", "a placement tag (repeatable); meta_server-tag=TAG creates go here", collect, [])
    .option("--disabled", "add it disabled (no new meetings)")
    .option("--max-meetings <n>", "place at most this many meetings there (default: no cap)")
    .option("--bbb-version <v>", "the BBB version it runs (e.g. 3.0), when it does not reveal it")
    .addOption(checksumOption().default("sha256"))
    .addOption(hooksChecksumOption())
    .option("--no-check", "skip the call that checks URL and secret")
    .action(async (id: string, url: string, secret: string, o) => {
      await withStore(o.kv, (kv) =>
        addServerCommand(kv, {
          id,
          url,
          secret,
          weight: o.weight,
          tags: o.tag,
          disabled: o.disabled,
          checksum: o.checksum,
          hooksChecksum: o.hooksChecksum,
          maxMeetings: o.maxMeetings,
          bbbVersion: o.bbbVersion,
          check: o.check,
          timeoutMs: 10_000,
          readStdin,
        }));
    });

  cli.command("set-server")
    .description(
      "change a server's URL, secret, weight, checksum algorithm, tags, meeting cap or BBB version " +
        "(SECRET - reads stdin)",
    )
    .argument("<id>", "server id")
    .addOption(kvOption())
    .option("--url <url>", "new URL, as bbb-conf --secret prints it")
    .option("--secret <secret>", "new shared secret, or - to read it from stdin")
    .option("--weight <w>", "new relative capacity")
    .option("--tag <tag>", "new placement tags (repeatable; replaces the old ones)", collect, [])
    .option("--no-tags", "remove every placement tag")
    .option("--max-meetings <n>", "place at most this many meetings there, or none to lift the cap")
    .option("--bbb-version <v>", "the BBB version it runs (e.g. 3.0), or none to forget it")
    .addOption(checksumOption())
    .addOption(hooksChecksumOption())
    .option("--no-check", "skip the call that checks a new URL or secret")
    .action(async (id: string, o) => {
      await withStore(o.kv, (kv) =>
        setServerCommand(kv, {
          id,
          url: o.url,
          secret: o.secret,
          weight: o.weight,
          checksum: o.checksum,
          hooksChecksum: o.hooksChecksum,
          tags: o.tag,
          clearTags: o.tags === false,
          maxMeetings: o.maxMeetings,
          bbbVersion: o.bbbVersion,
          check: o.check,
          timeoutMs: 10_000,
          readStdin,
        }));
    });

  cli.command("list-servers")
    .description("list the servers with state, health, meetings and load (never secrets)")
    .addOption(kvOption())
    .option("--json", "print a JSON array")
    .action(async (o) => {
      await withStore(o.kv, (kv) => listServersCommand(kv, Boolean(o.json)));
    });

  for (
    const [name, state, what] of [
      ["enable", "enabled", "let a server take new meetings again (also lifts panic)"],
      ["disable", "disabled", "no new meetings; the meetings running there keep working"],
      ["cordon", "cordoned", "no new meetings; once the server is empty the poller disables it (drain)"],
    ] as const
  ) {
    cli.command(name)
      .description(what)
      .argument("<id>", "server id")
      .addOption(kvOption())
      .action(async (id: string, o) => {
        await withStore(o.kv, (kv) => setStateCommand(kv, id, state));
      });
  }

  cli.command("remove-server")
    .description("remove a server; refuses while meetings run there unless --force (then bbblb forgets them)")
    .argument("<id>", "server id")
    .addOption(kvOption())
    .option("--force", "forget the meetings running there (they are not ended)")
    .action(async (id: string, o) => {
      await withStore(o.kv, (kv) => removeServerCommand(kv, id, Boolean(o.force)));
    });

  cli.command("sync-servers")
    .description("make the servers match a YAML or JSON list: add, update, cordon (or --prune) the rest")
    .argument("<file>", "a list of {id, url, secret, weight?, checksum?, state?}, or - for stdin")
    .addOption(kvOption())
    .option(
      "--prune",
      "remove servers missing from the file (those without meetings; the others are cordoned)",
    )
    .option("--dry-run", "print the plan and change nothing")
    .option("--no-check", "skip the call that checks each new URL or secret")
    .action(async (file: string, o) => {
      let text: string;
      try {
        text = file === "-" ? await readStdin() : await Deno.readTextFile(file);
      } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
      }
      const sync = (kv: Deno.Kv) =>
        syncServersCommand(kv, {
          text,
          name: file === "-" ? "stdin" : file,
          prune: Boolean(o.prune),
          dryRun: Boolean(o.dryRun),
          check: o.check,
          timeoutMs: 10_000,
        });
      const path = kvPath(o.kv, await settingsEnv());
      if (o.dryRun && !/^https?:\/\//.test(path) && !(await Deno.stat(path).then(() => true, () => false))) {
        // Before the first start (configuration management): plan against an empty cluster, create nothing.
        console.error(`bbblb: there is no store at ${path} yet: the plan is against an empty one`);
        const empty = await Deno.openKv(":memory:");
        try {
          console.log(await sync(empty));
        } finally {
          empty.close();
        }
        return;
      }
      await withStore(o.kv, sync, !o.dryRun);
    });
}
