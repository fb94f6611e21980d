/**
 * The command group of backups: `bbblb export` and `bbblb import`.
 *
 * @module
 */
import type { Command } from "commander";
import { exportCommand, importCommand, readExportFile } from "./backup.ts";
import { kvOption, withStore } from "./kit.ts";

/** Add `export` and `import` to the program. */
export function backupCommands(cli: Command): void {
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
}
