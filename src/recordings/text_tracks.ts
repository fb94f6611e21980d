/**
 * Text tracks (captions, subtitles) of recordings in custody, kept as BBB's caption pipeline keeps them
 * (`rap-caption-inbox.rb`): `DIR/captions/<recordID>/<kind>_<lang>.vtt` in WebVTT, and `captions.json` listing
 * `{kind, label, lang, source}`; a new track replaces the one of the same kind and language. BBB converts an
 * upload with ffmpeg; bbblb reads WebVTT and SubRip (SRT), the formats front-ends upload, and converts SRT itself.
 *
 * @module
 */
import { join } from "node:path";
import type { TextTrackRecord } from "../store/recordings.ts";
import { captionsDir, makeDir, newFolderId } from "./layout.ts";

/**
 * The language tags putRecordingTextTrack accepts (bbb-web's `LocaleUtils.toLocale`): `ll` or `lll`, optionally
 * `_` or `-` and a region (`CC` or three digits).
 */
const LANG_PATTERN = /^([a-z]{2,3})(?:[_-]([A-Z]{2}|\d{3}))?$/;

/** A language tag as BBB stores it (`en_US` becomes `en-US`), or `null` when BBB refuses it. */
export function normalizeLang(lang: string): string | null {
  const m = LANG_PATTERN.exec(lang);
  return m ? (m[2] ? `${m[1]}-${m[2]}` : m[1]) : null;
}

/** The English name of a language, BBB's default label (`Locale.getDisplayLanguage`). */
export function languageLabel(lang: string): string {
  const primary = lang.split("-")[0];
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(primary) ?? primary;
  } catch {
    return primary;
  }
}

/**
 * A track file as WebVTT: WebVTT as it is, SubRip converted (comma decimal separators, the `WEBVTT` header).
 *
 * @returns `null` for anything else
 */
export function toWebVtt(bytes: Uint8Array): string | null {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  text = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  if (/^WEBVTT(?:[ \t].*)?(?:\n|$)/.test(text)) return text;
  const time = /(\d{1,2}:\d{2}:\d{2}),(\d{3})/g;
  if (!/\d{1,2}:\d{2}:\d{2},\d{3}\s*-->\s*\d{1,2}:\d{2}:\d{2},\d{3}/.test(text)) return null;
  const body = text.trim().split(/\n{2,}/).map((cue) =>
    cue.split("\n").map((line) => (line.includes("-->") ? line.replace(time, "$1.$2") : line)).join("\n")
  ).join("\n\n");
  return `WEBVTT\n\n${body}\n`;
}

/** The file name of a track in the captions folder. */
export function trackFile(t: { kind: string; lang: string }): string {
  return `${t.kind}_${t.lang}.vtt`;
}

/** Write a file atomically (a temporary file in the same folder, renamed over it), mode 0644. */
async function writeAtomic(path: string, dir: string, text: string): Promise<void> {
  const tmp = join(dir, `.tmp-${newFolderId()}`);
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
  try {
    await file.write(new TextEncoder().encode(text));
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.chmod(tmp, 0o644);
  await Deno.rename(tmp, path);
}

/** Store a track's WebVTT file (before its record is updated). */
export async function saveTrackFile(
  dir: string,
  recordID: string,
  track: TextTrackRecord,
  vtt: string,
): Promise<void> {
  const folder = captionsDir(dir, recordID);
  await makeDir(folder, null);
  await writeAtomic(join(folder, trackFile(track)), folder, vtt);
}

/** Rewrite `captions.json` from the tracks in the record (after it was updated). */
export async function saveCaptionsIndex(
  dir: string,
  recordID: string,
  tracks: TextTrackRecord[],
): Promise<void> {
  const folder = captionsDir(dir, recordID);
  await makeDir(folder, null);
  const index = tracks.map((t) => ({ kind: t.kind, label: t.label, lang: t.lang, source: t.source }));
  await writeAtomic(join(folder, "captions.json"), folder, JSON.stringify(index, null, 2));
}
