/**
 * The recording calls in central custody (`serve --recordings-dir`): answered from bbblb's index and files, as
 * bbb-web answers them, every URL on bbblb's host (a tenant's own host when it has one), each tenant seeing only
 * its own recordings. Until the operator turns it off (`--recordings-routed-fallback off`), recordIDs that are
 * not in the index are still looked up on the servers (the routed calls of `recordings.ts`), so turning central
 * custody on hides nothing that is still on a server.
 *
 * @module
 */
import { BbbError } from "../bbb/errors.ts";
import { get, type Params } from "../bbb/query.ts";
import { DEFAULT_TENANT } from "../store/keys.ts";
import {
  getRecording,
  indexedRecordIds,
  listRecordings,
  type RecordingRecord,
  setRecordingState,
  type TextTrackRecord,
  updateRecording,
} from "../store/recordings.ts";
import { isProtected, mintGrant, withGrant, withGrants } from "../recordings/access.ts";
import { recordingMatches, recordingNode, recordingQuery } from "../recordings/listing.ts";
import {
  languageLabel,
  normalizeLang,
  saveCaptionsIndex,
  saveTrackFile,
  toWebVtt,
  trackFile,
} from "../recordings/text_tracks.ts";
import type { ApiContext, CentralRecordings } from "./context.ts";
import {
  json,
  jsonFailed,
  type ListedRecording,
  recordIdsOf,
  recordingsAnswer,
  routedRecordingCall,
  routedRecordingNodes,
  textTrackCall,
} from "./recordings.ts";
import type { ApiRequest } from "./request.ts";
import { xml } from "./responses.ts";

function central(ctx: ApiContext): CentralRecordings {
  if (!ctx.recordings) throw new Error("central recordings are not configured");
  return ctx.recordings;
}

/** Where a tenant's links point: its own host when it has one (with `BBBLB_URL`'s scheme and port), else `BBBLB_URL`. */
export async function baseFor(ctx: ApiContext, tenant: string): Promise<string> {
  const host = tenant === DEFAULT_TENANT ? null : (await ctx.tenants.snapshot()).byName.get(tenant)?.host;
  if (!host) return ctx.publicUrl;
  const u = new URL(ctx.publicUrl);
  u.hostname = host;
  return u.href.replace(/\/+$/, "");
}

/**
 * The grant for a tenant's links when its recordings are protected (valid for `--recording-link-minutes`):
 * `grant(recordID)`, or `null` when its links need none.
 */
async function grantsFor(ctx: ApiContext, tenant: string): Promise<((recordID: string) => string) | null> {
  const playback = central(ctx).playback;
  if (!playback) return null;
  const tenants = await ctx.tenants.snapshot();
  const record = tenant === DEFAULT_TENANT ? tenants.defaults : tenants.byName.get(tenant);
  if (!isProtected(record, playback.protectedByDefault)) return null;
  const until = (playback.now ?? Date.now)() + playback.linkMinutes * 60_000;
  return (recordID) => mintGrant(playback.key, recordID, tenant, until);
}

/**
 * `getRecordings` from the index, with BBB's filters, states, `meta_*`, ordering and paging; with the routed
 * fallback on, the recordings servers list that are not in the index are merged in (a server that fails is left
 * out, never failing the call).
 */
export async function getRecordingsCentral(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  const q = recordingQuery(req.params, req.tenant);
  const base = await baseFor(ctx, req.tenant);
  const grant = await grantsFor(ctx, req.tenant);
  const entries: ListedRecording[] = (await listRecordings(ctx.kv, req.tenant, q.prefixes))
    .filter((r) => recordingMatches(r, q))
    .map((r) => ({
      recordID: r.recordID,
      startTime: r.startTime,
      node: recordingNode(grant ? withGrants(r, grant(r.recordID)) : r, base),
    }));
  if (central(ctx).routedFallback) {
    const routed = await routedRecordingNodes(ctx, req);
    const indexed = await indexedRecordIds(ctx.kv, routed.entries.map((e) => e.recordID));
    entries.push(...routed.entries.filter((e) => !indexed.has(e.recordID)));
  }
  return recordingsAnswer(entries, req);
}

/** A tenant's own records among `ids` (exact IDs), and the IDs no tenant has in the index. */
async function ownAndUnknown(
  ctx: ApiContext,
  tenant: string,
  ids: string[],
): Promise<{ own: RecordingRecord[]; unknown: string[] }> {
  const own: RecordingRecord[] = [];
  const unknown: string[] = [];
  for (const id of ids) {
    const entry = await getRecording(ctx.kv, id);
    if (!entry) unknown.push(id);
    else if (entry.value.tenant === tenant) own.push(entry.value);
  }
  return { own, unknown };
}

/** The same request with only these recordIDs (for the routed fallback). */
function withIds(req: ApiRequest, ids: string[]): ApiRequest {
  return { ...req, params: req.params.map(([n, v]) => (n === "recordID" ? [n, ids.join(",")] : [n, v])) };
}

/** Groovy's `String.toBoolean()`, which bbb-web's publishRecordings applies: `true`, `y` or `1`. */
function groovyTrue(v: string): boolean {
  return ["true", "y", "1"].includes(v.trim().toLowerCase());
}

/** `meta_*` parameters of updateRecordings, lower-cased (bbb-web), bbblb's own tenant tag left out. */
function metaChangesOf(params: Params): [string, string][] {
  const out = new Map<string, string>();
  for (const [name, value] of params) {
    if (!/^meta_[a-zA-Z][a-zA-Z0-9-]*$/.test(name)) continue;
    const key = name.slice(5).toLowerCase();
    if (key === "bbblb-tenant" || out.has(key)) continue;
    out.set(key, value.trim());
  }
  return [...out];
}

/**
 * `publishRecordings`, `updateRecordings`, `deleteRecordings` on the central copy, as bbb-web: `notFound` unless
 * one of the exact IDs is published or unpublished; publish moves published and unpublished recordings
 * (deleted ones stay deleted), delete marks them deleted (their files stay until they are purged), update
 * changes the metadata of every recording whose ID starts with one of the IDs (deleted ones too; an empty value
 * removes a key). IDs not in the index go to the servers when the routed fallback is on.
 *
 * @throws {BbbError} `missingParamRecordID`, `missingParamPublish`, `notFound`
 */
export function centralRecordingCall(call: "publishRecordings" | "updateRecordings" | "deleteRecordings") {
  const routed = routedRecordingCall(call);
  return async (ctx: ApiContext, req: ApiRequest): Promise<Response> => {
    const ids = recordIdsOf(req.params);
    const publish = get(req.params, "publish") ?? "";
    if (call === "publishRecordings" && publish === "") {
      throw new BbbError("missingParamPublish", "You must specify a publish value true or false.");
    }
    const { own, unknown } = await ownAndUnknown(ctx, req.tenant, ids);
    const live = own.filter((r) => r.state === "published" || r.state === "unpublished");
    let routedAnswer: Response | null = null;
    if (central(ctx).routedFallback && unknown.length > 0) {
      try {
        routedAnswer = await routed(ctx, withIds(req, unknown));
      } catch (e) {
        if (!(e instanceof BbbError) || live.length === 0) throw e;
      }
    }
    if (live.length === 0) {
      if (routedAnswer) return routedAnswer;
      throw new BbbError("notFound", "We could not find recordings");
    }
    const now = Date.now();
    if (call === "publishRecordings") {
      const target = groovyTrue(publish) ? "published" : "unpublished";
      for (const r of live) {
        await setRecordingState(ctx.kv, r.recordID, ["published", "unpublished"], target, now);
      }
      return xml(
        `<response><returncode>SUCCESS</returncode><published>${escapeXml(publish)}</published></response>`,
      );
    }
    if (call === "deleteRecordings") {
      for (const r of live) {
        await setRecordingState(ctx.kv, r.recordID, ["published", "unpublished"], "deleted", now);
      }
      return xml("<response><returncode>SUCCESS</returncode><deleted>true</deleted></response>");
    }
    const changes = metaChangesOf(req.params);
    const targets = await listRecordings(ctx.kv, req.tenant, ids);
    for (const r of targets) {
      await updateRecording(ctx.kv, r.recordID, (cur) => {
        if (!cur || cur.tenant !== req.tenant || changes.length === 0) return null;
        const metaChanges = { ...cur.metaChanges };
        for (const [k, v] of changes) metaChanges[k] = v === "" ? null : v;
        return { ...cur, metaChanges, updatedAt: now };
      });
    }
    return xml("<response><returncode>SUCCESS</returncode><updated>true</updated></response>");
  };
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * `getRecordingTextTracks` and `putRecordingTextTrack` on the central copy, as bbb-web answers them (JSON). A
 * track is stored as BBB's caption pipeline stores it and listed at once with its URL on bbblb's host
 * (`/captions/<recordID>/<kind>_<lang>.vtt`, the file's path under the recordings directory).
 */
export function centralTextTrackCall(call: "getRecordingTextTracks" | "putRecordingTextTrack") {
  const routed = textTrackCall(call);
  return async (ctx: ApiContext, req: ApiRequest): Promise<Response> => {
    const recordID = get(req.params, "recordID")?.trim() ?? "";
    if (recordID === "") return routed(ctx, req);
    const entry = await getRecording(ctx.kv, recordID);
    const record = entry && entry.value.tenant === req.tenant ? entry.value : null;
    const usable = record && (call === "getRecordingTextTracks" || record.state !== "deleted")
      ? record
      : null;
    if (!usable) {
      if (!entry && central(ctx).routedFallback) return routed(ctx, req);
      return call === "putRecordingTextTrack"
        ? jsonFailed("noRecordings", `No recording was found for ${recordID}`)
        : jsonFailed("noRecordings", `No recording found for ${recordID}`);
    }
    if (call === "getRecordingTextTracks") {
      const base = await baseFor(ctx, req.tenant);
      const grant = await grantsFor(ctx, req.tenant);
      const tracks = usable.textTracks.map((t) => ({
        href: ((href) => grant ? withGrant(href, grant(recordID)) : href)(
          `${base}/captions/${encodeURIComponent(recordID)}/${trackFile(t)}`,
        ),
        kind: t.kind,
        label: t.label,
        lang: t.lang,
        source: t.source,
      }));
      return json({ response: { returncode: "SUCCESS", tracks } });
    }
    return await putTrack(ctx, req, usable);
  };
}

/** `putRecordingTextTrack` on a recording in custody: bbb-web's checks in its order, then store the track. */
async function putTrack(ctx: ApiContext, req: ApiRequest, record: RecordingRecord): Promise<Response> {
  const fields = new Map<string, string>();
  let file: File | null = null;
  if (req.body && req.body.contentType.toLowerCase().startsWith("multipart/form-data")) {
    try {
      const form = await new Response(req.body.bytes, { headers: { "content-type": req.body.contentType } })
        .formData();
      for (const [k, v] of form) {
        if (typeof v === "string") fields.set(k, v);
        else if (k === "file" && file === null) file = v;
      }
    } catch {
      // a malformed multipart body carries no file
    }
  }
  const param = (name: string) => (get(req.params, name) ?? fields.get(name) ?? "").trim();
  const kind = param("kind");
  if (kind === "") return jsonFailed("paramError", "Missing param kind.");
  if (kind !== "subtitles" && kind !== "captions") {
    return jsonFailed("invalidKind", `Invalid kind parameter, expected='subtitles|captions' actual=${kind}`);
  }
  const rawLang = param("lang");
  if (rawLang === "") return jsonFailed("paramError", "Missing param lang.");
  const lang = normalizeLang(rawLang);
  if (!lang) return jsonFailed("invalidLang", `Malformed lang param, received=${rawLang}`);
  const upload = file as File | null;
  if (!upload || upload.size === 0) {
    return jsonFailed("empty_uploaded_text_track", "Empty uploaded text track.");
  }
  const vtt = toWebVtt(new Uint8Array(await upload.arrayBuffer()));
  if (vtt === null) {
    return json({
      response: {
        returncode: "FAILED",
        recordId: record.recordID,
        messageKey: "upload_text_track_failed",
        message: "Text track upload failed: bbblb reads WebVTT and SubRip (SRT) files.",
      },
    });
  }
  const label = param("label");
  const track: TextTrackRecord = {
    kind,
    lang,
    label: label === "" ? languageLabel(lang) : label,
    source: "upload",
  };
  const dir = central(ctx).custody.dir;
  await saveTrackFile(dir, record.recordID, track, vtt);
  const updated = await updateRecording(ctx.kv, record.recordID, (cur) => {
    if (!cur) return null;
    const textTracks = [...cur.textTracks.filter((t) => !(t.kind === kind && t.lang === lang)), track];
    return { ...cur, textTracks, updatedAt: Date.now() };
  });
  await saveCaptionsIndex(dir, record.recordID, updated?.textTracks ?? [track]);
  return json({
    response: {
      returncode: "SUCCESS",
      recordId: record.recordID,
      messageKey: "upload_text_track_success",
      message: "Text track uploaded successfully",
    },
  });
}
