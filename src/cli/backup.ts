/**
 * `bbblb export [FILE]` and `bbblb import FILE`: a whole store as versioned JSON. The export holds every
 * secret (it is a backup), so the file is created with mode 0600 and a warning says so on stderr.
 *
 * @module
 */
import { BackupError, type ExportDoc, exportStore, importStore, validateExport } from "../store/backup.ts";
import { CliError } from "./errors.ts";

/**
 * Export the store to `file` (mode 0600) or, without one, to stdout.
 *
 * @param warn where the one-line warning about secrets goes (stderr)
 * @returns the line to print on stdout when writing a file, or the JSON itself without one
 */
export async function exportCommand(
  kv: Deno.Kv,
  file: string | undefined,
  warn: (line: string) => void,
): Promise<string> {
  const doc = await exportStore(kv);
  const json = JSON.stringify(doc, null, 2);
  if (file === undefined || file === "-") {
    warn("bbblb: the export holds the servers' secrets and the API secret; keep it like the store");
    return json;
  }
  try {
    // Created 0600; an existing file is truncated and set to 0600 too, before anything is written into it.
    const f = await Deno.open(file, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      await Deno.chmod(file, 0o600);
      await f.write(new TextEncoder().encode(json + "\n"));
    } finally {
      f.close();
    }
  } catch (e) {
    throw new CliError(`cannot write ${file}: ${(e as Error).message}`);
  }
  warn(`bbblb: ${file} holds the servers' secrets and the API secret (mode 0600); keep it like the store`);
  return `exported ${doc.servers.length} server(s), ${
    doc.tenants?.length ?? 0
  } tenant(s), ${doc.meetings.length} ` +
    `running meeting(s), ${doc.history.length} history row(s) to ${file}`;
}

/**
 * Read and validate an export file (`-`: stdin) before any store is opened, so a bad file creates nothing.
 *
 * @throws {CliError} exit 2 for a file that cannot be read or is not an export
 */
export async function readExportFile(file: string): Promise<ExportDoc> {
  let raw: unknown;
  try {
    raw = JSON.parse(
      file === "-" ? await new Response(Deno.stdin.readable).text() : await Deno.readTextFile(file),
    );
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
  }
  try {
    return validateExport(raw);
  } catch (e) {
    if (e instanceof BackupError) throw new CliError(e.message, e.exitCode);
    throw e;
  }
}

/**
 * Import an export (see {@linkcode readExportFile}) into the store.
 *
 * @throws {CliError} exit 1 for a store that is not empty without `force`
 */
export async function importCommand(kv: Deno.Kv, doc: ExportDoc, force: boolean): Promise<string> {
  try {
    const report = await importStore(kv, doc, { force });
    return `imported ${report.servers} server(s), ${report.meetings} running meeting(s), ${report.history} history row(s), ${report.settings} setting(s), ${report.recordings} recording(s)`;
  } catch (e) {
    if (e instanceof BackupError) throw new CliError(e.message, e.exitCode);
    throw e;
  }
}
