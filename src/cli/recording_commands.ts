/**
 * The `bbblb recording` command group (import, list, publish, unpublish, delete), registered on the program like
 * every group.
 *
 * @module
 */
import type { Command } from "commander";
import { kvOption, settingsEnv, withStore } from "./kit.ts";
import {
  importRecordingsCommand,
  listRecordingsCommand,
  recordingsDirOf,
  setRecordingsStateCommand,
} from "./recordings.ts";

/** Add the `recording` group (import, list, publish, unpublish, delete) to the program. */
export function recordingCommands(cli: Command): void {
  const recording = cli.command("recording");
  recording.description(
    "recordings in central custody (serve --recordings-dir): import, list, publish, delete",
  );

  recording.command("import")
    .description("import recordings: a .tar, .tar.gz or a folder laid out like /var/bigbluebutton/published")
    .argument("<path>", "the archive or folder")
    .addOption(kvOption())
    .option("--recordings-dir <dir>", "the recordings directory (env BBBLB_RECORDINGS_DIR)")
    .option(
      "--tenant <name>",
      "whose they are (`default` for the default tenant); without it, from bbblb's history",
    )
    .option("--unpublished", "import new recordings unpublished")
    .action(async (path: string, o) => {
      const dir = recordingsDirOf(o.recordingsDir, await settingsEnv());
      await withStore(
        o.kv,
        (kv) =>
          importRecordingsCommand(
            kv,
            { path, dir, tenant: o.tenant, unpublished: Boolean(o.unpublished) },
            (l) => console.log(l),
          ),
      );
    });

  recording.command("list")
    .description("list the recordings in custody with tenant, meetingID, state, formats and size")
    .addOption(kvOption())
    .option("--json", "print a JSON array")
    .option("--tenant <name>", "only this tenant's (`default` for the default tenant)")
    .action(async (o) => {
      await withStore(o.kv, (kv) => listRecordingsCommand(kv, { json: Boolean(o.json), tenant: o.tenant }));
    });

  for (
    const [name, what] of [
      ["publish", "publish recordings (also undeletes)"],
      ["unpublish", "unpublish recordings"],
      ["delete", "mark recordings deleted, as deleteRecordings does (their files stay)"],
    ] as const
  ) {
    recording.command(name)
      .description(what)
      .argument("<id...>", "recordIDs")
      .addOption(kvOption())
      .action(async (ids: string[], o) => {
        await withStore(o.kv, (kv) => setRecordingsStateCommand(kv, ids, name));
      });
  }
}
