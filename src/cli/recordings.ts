/**
 * Admin subcommands for recordings in central custody: `recording import` (migration: a tar, a tar.gz or a
 * folder laid out like `/var/bigbluebutton/published`), `recording list`, and `recording publish`,
 * `unpublish`, `delete`. Thin: validate, call `recordings/` and the store, print.
 *
 * @module
 */
import { silentLogger } from "../log.ts";
import { ArchiveError, extractArchive, type StagedItem, stageFolder } from "../recordings/archive.ts";
import { importStaged } from "../recordings/import.ts";
import {
  ensureLayout,
  makeDir,
  newFolderId,
  ownerToKeep,
  removeTree,
  stagingRoot,
} from "../recordings/layout.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import {
  getRecording,
  listAllRecordings,
  type RecordingRecord,
  type RecordingState,
  setRecordingState,
} from "../store/recordings.ts";
import { DEFAULT_TENANT_NAME, getTenant, listTenants } from "../store/tenants.ts";
import { CliError } from "./errors.ts";
import { join } from "node:path";

/** The recordings directory from `--recordings-dir` / `BBBLB_RECORDINGS_DIR`. @throws {CliError} exit 2 */
export function recordingsDirOf(flag: string | undefined, env: (name: string) => string | undefined): string {
  const dir = (flag ?? env("BBBLB_RECORDINGS_DIR") ?? "").trim();
  if (dir === "") {
    throw new CliError(
      "this command needs the recordings directory: give --recordings-dir or set BBBLB_RECORDINGS_DIR",
      2,
    );
  }
  return dir;
}

/** The tenant slot of `--tenant NAME` (`default` for the default tenant). @throws {CliError} for an unknown one */
async function tenantOf(kv: Deno.Kv, name: string): Promise<string> {
  if (name === DEFAULT_TENANT_NAME) return DEFAULT_TENANT;
  if (!(await getTenant(kv, name))) {
    throw new CliError(`there is no tenant "${name}" (see bbblb tenant list)`, 2);
  }
  return name;
}

/** A tenant slot as the operator names it (`default` for the default tenant). */
function tenantName(slot: string): string {
  return slot === DEFAULT_TENANT ? DEFAULT_TENANT_NAME : slot;
}

/** Options of {@linkcode importRecordingsCommand}. */
export interface ImportCommandOptions {
  /** A .tar, .tar.gz or a folder laid out like /var/bigbluebutton/published. */
  path: string;
  /** The recordings directory. */
  dir: string;
  /** `--tenant NAME` (`default` for the default tenant). */
  tenant?: string;
  unpublished: boolean;
}

/**
 * `bbblb recording import PATH`: stage PATH inside the recordings directory and import every format in it,
 * printing one line per format. Whose each recording is comes from bbblb's history of its meeting, or from
 * `--tenant`. Files written as root are given to the owner of the recordings directory.
 *
 * @throws {CliError} exit 1 when a format failed (after the others were imported), 2 for a bad PATH or tenant
 */
export async function importRecordingsCommand(
  kv: Deno.Kv,
  opts: ImportCommandOptions,
  print: (line: string) => void,
): Promise<string> {
  const tenant = opts.tenant === undefined ? undefined : await tenantOf(kv, opts.tenant);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(opts.path);
  } catch (e) {
    throw new CliError(`cannot read ${opts.path}: ${(e as Error).message}`, 2);
  }
  try {
    await ensureLayout(opts.dir);
  } catch (e) {
    throw new CliError(`cannot use the recordings directory ${opts.dir}: ${(e as Error).message}`);
  }
  const owner = await ownerToKeep(opts.dir);
  const staging = join(stagingRoot(opts.dir), newFolderId());
  await makeDir(staging, owner);
  let items: StagedItem[];
  try {
    if (info.isDirectory) {
      items = await stageFolder(opts.path, staging, { owner });
    } else {
      const file = await Deno.open(opts.path);
      items = await extractArchive(file.readable, staging, { owner });
    }
  } catch (e) {
    await removeTree(staging);
    if (e instanceof ArchiveError) throw new CliError(`cannot import ${opts.path}: ${e.message}`);
    throw e;
  }
  const tenants = new Set((await listTenants(kv)).map((t) => t.name));
  const results = await importStaged(
    { kv, dir: opts.dir, log: silentLogger, owner: `cli-${crypto.randomUUID()}`, fileOwner: owner },
    staging,
    items,
    { uploader: null, tenant, unpublished: opts.unpublished, tenants },
  );
  for (const r of results) {
    print(
      r.state === "imported"
        ? `imported ${r.recordID} ${r.format} (tenant ${tenantName(r.tenant ?? "")})`
        : `failed ${r.recordID} ${r.format}: ${r.error}`,
    );
  }
  const failed = results.filter((r) => r.state === "failed").length;
  const summary = `${results.length - failed} format(s) imported, ${failed} failed`;
  if (failed > 0) throw new CliError(summary);
  return summary;
}

/** `bbblb recording list [--json] [--tenant NAME]`: a table, or a JSON array. */
export async function listRecordingsCommand(
  kv: Deno.Kv,
  opts: { json: boolean; tenant?: string },
): Promise<string> {
  const tenant = opts.tenant === undefined ? undefined : await tenantOf(kv, opts.tenant);
  const all = (await listAllRecordings(kv))
    .filter((r) => tenant === undefined || r.tenant === tenant)
    .sort((a, b) => a.startTime - b.startTime || (a.recordID < b.recordID ? -1 : 1));
  const rows = all.map((r: RecordingRecord) => ({
    recordID: r.recordID,
    tenant: tenantName(r.tenant),
    meetingID: r.meetingID,
    name: r.name,
    state: r.state,
    formats: Object.keys(r.formats).sort(),
    startTime: new Date(r.startTime).toISOString(),
    bytes: Object.values(r.formats).reduce((s, f) => s + f.bytes, 0),
    server: r.serverId,
  }));
  if (opts.json) return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return "no recordings";
  const table = [
    ["RECORD ID", "TENANT", "MEETING ID", "STATE", "FORMATS", "STARTED", "MIB"],
    ...rows.map((r) => [
      r.recordID,
      r.tenant,
      r.meetingID,
      r.state,
      r.formats.join(","),
      r.startTime.slice(0, 16).replace("T", " "),
      (r.bytes / 1024 ** 2).toFixed(1),
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/**
 * `bbblb recording publish|unpublish|delete ID...`: every ID must be in custody (otherwise nothing changes).
 * Delete marks recordings deleted, as deleteRecordings does; their files stay under the recordings directory
 * until retention purges them. A purged recording has no files left: it cannot be published again.
 *
 * @throws {CliError} exit 1 naming the unknown or purged IDs
 */
export async function setRecordingsStateCommand(
  kv: Deno.Kv,
  ids: string[],
  action: "publish" | "unpublish" | "delete",
): Promise<string> {
  const unknown: string[] = [];
  const purged: string[] = [];
  for (const id of ids) {
    const entry = await getRecording(kv, id);
    if (!entry) unknown.push(id);
    else if (entry.value.purgedAt && action !== "delete") purged.push(id);
  }
  if (unknown.length > 0) throw new CliError(`not in custody: ${unknown.join(", ")} (nothing was changed)`);
  if (purged.length > 0) {
    throw new CliError(`purged, their files are gone: ${purged.join(", ")} (nothing was changed)`);
  }
  const to: RecordingState = action === "publish"
    ? "published"
    : action === "unpublish"
    ? "unpublished"
    : "deleted";
  const from: RecordingState[] = action === "delete"
    ? ["published", "unpublished"]
    : ["published", "unpublished", "deleted"];
  const lines: string[] = [];
  for (const id of ids) {
    const changed = await setRecordingState(kv, id, from, to);
    lines.push(`${id}: ${changed ? to : `already ${(await getRecording(kv, id))?.value.state ?? to}`}`);
  }
  return lines.join("\n");
}
