/**
 * Entry point of the bbblb binary: parses argv with commander, runs one subcommand, exits with its status.
 * Every error is one line on stderr and a non-zero exit.
 *
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { CHECKSUM_ALGORITHMS } from "./src/bbb/checksum.ts";
import denoJson from "./deno.json" with { type: "json" };
import {
  ConfigError,
  ConfigUnreadableError,
  type Env,
  helpLine,
  kvPath,
  layeredEnv,
  readConfigFile,
  serveConfig,
  type ServeFlags,
} from "./src/config.ts";
import { configCommand } from "./src/cli/config.ts";
import { installCommand } from "./src/cli/install.ts";
import { exportCommand, importCommand, readExportFile } from "./src/cli/backup.ts";
import { syncServersCommand } from "./src/cli/sync_servers.ts";
import { CliError } from "./src/cli/errors.ts";
import { serve } from "./src/cli/serve.ts";
import {
  addServerCommand,
  listServersCommand,
  removeServerCommand,
  setServerCommand,
  setStateCommand,
} from "./src/cli/servers.ts";
import { StoreError } from "./src/store/servers.ts";
import { adminContext } from "./src/cli/context.ts";
import { listMeetingsCommand, panicCommand } from "./src/cli/meetings.ts";
import { addTenantCommands } from "./src/cli/tenant_commands.ts";
import { addRecordingCommands } from "./src/cli/recording_commands.ts";
import { openStore, storeAnswers, storeProblem, StoreUnavailableError } from "./src/store/kv.ts";
import { ensureSchema } from "./src/store/schema.ts";
import { flushLog } from "./src/log.ts";
import { SETTINGS } from "./src/settings.ts";

/** The process environment. */
const processEnv: Env = (name) => Deno.env.get(name);

/**
 * The environment with the config file named by `--config` (else `BBBLB_CONFIG`) layered under it, so every
 * command reads the same settings as `serve`.
 */
async function settingsEnv(configFlag?: string): Promise<Env> {
  return layeredEnv(processEnv, await readConfigFile(configFlag, processEnv));
}

/** Says on stderr that a command created a new store (only serve, import, install and sync-servers do). */
function announceNewStore(path: string): void {
  console.error(`bbblb: created a new store at ${path}`);
}

/**
 * Run an admin subcommand on the store named by `--kv` and print what it returns. A missing store is refused
 * unless `create` (import and sync-servers), which says so on stderr.
 */
async function withStore(
  kvFlag: string | undefined,
  run: (kv: Deno.Kv) => Promise<string>,
  create = false,
): Promise<void> {
  const kv = await openStore(kvPath(kvFlag, await settingsEnv()), create, announceNewStore);
  await answeredOrAbandoned(kv, ensureSchema(kv));
  try {
    console.log(await run(kv));
  } finally {
    kv.close();
  }
}

/**
 * The first use of a store just opened, bounded by {@linkcode storeAnswers}. On other errors the store is closed;
 * when it did not answer it is left open (closing it would wait for the stuck read) and the process exits.
 */
async function answeredOrAbandoned(kv: Deno.Kv, first: Promise<unknown>): Promise<void> {
  try {
    await storeAnswers(first);
  } catch (e) {
    if (!(e instanceof StoreUnavailableError)) kv.close();
    throw e;
  }
}

function kvOption(): Option {
  return new Option(
    "--kv <path>",
    "the KV store: a file path or a KV Connect URL (env BBBLB_KV, default ./bbblb.kv)",
  );
}

/** `--checksum`: the algorithm bbblb signs its calls to a server with. */
function checksumOption(): Option {
  return new Option("--checksum <algo>", "what bbblb signs its calls with").choices([...CHECKSUM_ALGORITHMS]);
}

/** `--hooks-checksum`: what bbblb signs calls to a server's webhooks module with (bbb-webhooks 2.6: SHA-1 only). */
function hooksChecksumOption(): Option {
  return new Option(
    "--hooks-checksum <algo>",
    "what calls to its webhooks module are signed with (default sha1)",
  )
    .choices([...CHECKSUM_ALGORITHMS]);
}

/** Commander's way to repeat an option: collect its values. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

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

/** The command line, as a commander program. */
export function program(): Command {
  const cli = new Command("bbblb")
    .description("A load balancer for BigBlueButton: one BBB API in front of many BBB servers.")
    .version(denoJson.version, "-V, --version")
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s.split("\n").filter((l) => l.trim())[0] + "\n") });

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
            : decodeURIComponent(new URL("./bbblb", import.meta.url).pathname),
          onCreate: announceNewStore,
        }),
      );
    });

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
          check: o.check,
          timeoutMs: 10_000,
          readStdin,
        }));
    });

  cli.command("set-server")
    .description(
      "change a server's URL, secret, weight, checksum algorithm, tags or meeting cap (SECRET - reads stdin)",
    )
    .argument("<id>", "server id")
    .addOption(kvOption())
    .option("--url <url>", "new URL, as bbb-conf --secret prints it")
    .option("--secret <secret>", "new shared secret, or - to read it from stdin")
    .option("--weight <w>", "new relative capacity")
    .option("--tag <tag>", "new placement tags (repeatable; replaces the old ones)", collect, [])
    .option("--no-tags", "remove every placement tag")
    .option("--max-meetings <n>", "place at most this many meetings there, or none to lift the cap")
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

  addTenantCommands(cli.command("tenant"), withStore, kvOption, settingsEnv, readStdin);
  addRecordingCommands(cli.command("recording"), withStore, kvOption, settingsEnv);

  cli.command("export")
    .description("write servers (with secrets), settings, running meetings and history as JSON (a backup)")
    .argument("[file]", "where to write (created with mode 0600); without it, stdout")
    .addOption(kvOption())
    .action(async (file: string | undefined, o) => {
      await withStore(o.kv, (kv) => exportCommand(kv, file, (line) => console.error(line)));
    });

  cli.command("import")
    .description("restore an export into an empty store (--force empties the store first)")
    .argument("<file>", "a file written by bbblb export, or - for stdin")
    .addOption(kvOption())
    .option("--force", "delete everything in the store first")
    .action(async (file: string, o) => {
      const doc = await readExportFile(file);
      await withStore(o.kv, (kv) => importCommand(kv, doc, Boolean(o.force)), true);
    });

  return cli;
}

/** Run the command line and return the exit status. */
export async function main(args: string[]): Promise<number> {
  try {
    await program().parseAsync(args, { from: "user" });
    return 0;
  } catch (e) {
    flushLog(); // the log lines before the error come first

    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors (printed as one line by commander) exit 2
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof CliError) {
      console.error(`bbblb: ${e.message}`);
      return e.exitCode;
    }
    if (e instanceof ConfigUnreadableError) {
      console.error(`bbblb: ${e.message}`);
      return 1;
    }
    if (e instanceof ConfigError || e instanceof StoreError) {
      console.error(`bbblb: ${e.message}`);
      return 2;
    }
    const problem = storeProblem(e);
    if (problem !== null) {
      console.error(`bbblb: stopped: ${problem}; what was done before is kept`);
      return 1;
    }
    console.error(`bbblb: ${(e as Error)?.message ?? e}`);
    return 1;
  }
}

if (import.meta.main) {
  const status = await main(Deno.args);
  // Deno.exit, not a return: a store operation abandoned by storeAnswers must not keep the process alive.
  flushLog();
  Deno.exit(status);
}
