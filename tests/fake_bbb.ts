/**
 * A faithful fake BigBlueButton server for bbblb's tests.
 *
 * It speaks the BBB 2.6-3.0 API over a real HTTP socket on 127.0.0.1: the version document, `create`,
 * `join`, `end`, `isMeetingRunning`, `getMeetingInfo`, `getMeetings`, `insertDocument`, `sendChatMessage`,
 * the recording calls (`getRecordings`, `publishRecordings`, `updateRecordings`, `deleteRecordings`,
 * `getRecordingTextTracks`, `putRecordingTextTrack`) and the bbb-webhooks module (`hooks/create`,
 * `hooks/list`, `hooks/destroy`). Checksums are verified exactly like bbb-web does (raw query string, literal
 * removal of the checksum, algorithm chosen by the hex length), responses use bbb-web's element names, order
 * and error wording per code path (validation framework, legacy recording controller, bbb-webhooks), and
 * every received API request is recorded so tests can assert on what bbblb forwarded. Failure modes (`hang`,
 * `garbage`, `http500`) and {@linkcode FakeBbb.stop} / {@linkcode FakeBbb.restart} simulate broken or
 * unreachable nodes.
 *
 * Run it stand-alone with `deno run -A tests/fake_bbb.ts --port 8101 --secret S [--keep-ended]`; it prints
 * its base URL (what `bbb-conf --secret` would show).
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Options for {@linkcode FakeBbb.start}. */
export interface FakeBbbOptions {
  /** Shared secret (bbb-web `securitySalt`). Default: a random one. An empty string disables checksum checks. */
  secret?: string;
  /** Port to listen on, on 127.0.0.1. Default 0: a free port chosen by the OS. */
  port?: number;
  /** Keep ended meetings listed with hasBeenForciblyEnded=true (default false: removed at once). */
  keepEnded?: boolean;
}

/** One API request as the fake received it. */
export interface ReceivedRequest {
  /** HTTP method, e.g. `GET`. */
  method: string;
  /** API call name: the path after `/bigbluebutton/api/` (`""` for the version document). */
  call: string;
  /** The query string exactly as received, without the leading `?`. */
  rawQuery: string;
  /**
   * Decoded parameters: the query string, plus form-encoded body parameters if any (and, for
   * putRecordingTextTrack, the text fields of its multipart body).
   */
  params: URLSearchParams;
  /** The request body, when the request had one. */
  body?: string;
  /** The request's Content-Type header. */
  contentType?: string | null;
  /** Whether the checksum verified against the secret at the time of the request. */
  checksumOk: boolean;
  /** When the request arrived (ms since the epoch), before it was answered in any mode. */
  at: number;
}

/** A participant of a {@linkcode FakeMeeting}. */
export interface FakeParticipant {
  /** External user ID (the join `userID` parameter, or the generated internal `w_…` ID). */
  userID: string;
  /** Display name. */
  fullName: string;
  /** Role in the meeting. */
  role: "MODERATOR" | "VIEWER";
  /** Whether the participant shares a webcam. */
  hasVideo?: boolean;
  /** `userdata-*` join parameters, without the prefix. */
  customdata?: Record<string, string>;
  /** Joined with `bot=true` (BBB 3.0, PR #21480). */
  bot?: boolean;
  /** The internal user ID (`w_…`) BBB gave the session. */
  internalUserID?: string;
}

/** A meeting held by the fake server. Tests may read and mutate it directly. */
export interface FakeMeeting {
  /** External meeting ID. */
  meetingID: string;
  /** The create `name` parameter. */
  meetingName: string;
  /** `sha1(meetingID) + "-" + createTime`. */
  internalMeetingID: string;
  /** Creation time in epoch milliseconds. */
  createTime: number;
  /** Attendee (viewer) password. */
  attendeePW: string;
  /** Moderator password. */
  moderatorPW: string;
  /** Voice bridge (telephone PIN), unique among this server's live meetings. */
  voiceBridge: string;
  /** All parameters of the create call (query and form body). */
  createParams: URLSearchParams;
  /** Users currently in the meeting. */
  participants: FakeParticipant[];
  /** Number of webcams shared. */
  videoCount: number;
  /** `meta_*` create parameters, keyed by the lower-cased name after `meta_`. */
  metadata: Record<string, string>;
  /** Whether this is a breakout room (create `isBreakout=true`). */
  isBreakout: boolean;
  /** Whether the meeting was ended (only visible with the `keepEnded` option). */
  ended: boolean;
  /** End time in epoch milliseconds, 0 while not ended. */
  endTime: number;
  /** Messages received through `sendChatMessage`, in order. */
  chat: { userName: string; message: string }[];
  /** Non-empty XML bodies received through `insertDocument`, in order. */
  documents: string[];
}

/** A text track of a {@linkcode FakeRecording}, as listed by `getRecordingTextTracks`. */
export interface FakeTextTrack {
  /** URL of the WebVTT file. */
  href: string;
  /** Track kind. */
  kind: "subtitles" | "captions";
  /** Display label. */
  label: string;
  /** BCP-47 language tag, e.g. `en-US`. */
  lang: string;
  /** Where the track came from. */
  source: "live" | "automatic" | "upload";
}

/** State of a {@linkcode FakeRecording} (the directory it lives in on a real server). */
export type FakeRecordingState = "processing" | "processed" | "published" | "unpublished" | "deleted";

/** A recording held by the fake server. Tests may read and mutate it directly. */
export interface FakeRecording {
  /** Record ID: the internalMeetingID of the recorded session. */
  recordID: string;
  /** External meeting ID. */
  meetingID: string;
  /** `sha1(meetingID) + "-" + startTime`. */
  internalMeetingID: string;
  /** Meeting name. */
  name: string;
  /** Whether the recorded meeting was a breakout room. */
  isBreakout: boolean;
  /** Whether the recording is published. */
  published: boolean;
  /** Recording state. */
  state: FakeRecordingState;
  /** Start time in epoch milliseconds. */
  startTime: number;
  /** End time in epoch milliseconds. */
  endTime: number;
  /** Number of participants. */
  participants: number;
  /** Metadata, keyed by the lower-cased `meta_` name. */
  metadata: Record<string, string>;
  /** URL of the `presentation` playback; `""` means no playback format (no `<playback>` element). */
  playbackUrl: string;
  /** Text tracks (captions and subtitles). */
  textTracks: FakeTextTrack[];
  /** Scalelite-style protection flag, set by `updateRecordings?protect=`; listed only when defined. */
  protected?: boolean;
}

/** One `putRecordingTextTrack` upload as the fake received it. */
export interface FakeTextTrackUpload {
  /** The `recordID` parameter (stripped). */
  recordID: string;
  /** The `kind` parameter (stripped). */
  kind: string;
  /** The `lang` parameter (stripped, as sent). */
  lang: string;
  /** The `label` parameter (stripped), or null when absent or empty. */
  label: string | null;
  /** File name of the multipart `file` part, or null. */
  fileName: string | null;
  /** Content of the `file` part, decoded as UTF-8. */
  content: string;
  /** Content-Type of the `file` part, or null. */
  contentType: string | null;
}

/** A webhook registered through the bbb-webhooks API (`hooks/create`). */
export interface FakeHook {
  /** Hook ID: an increasing integer, as a string. */
  hookID: string;
  /** Callback URL. */
  callbackURL: string;
  /** External meeting ID, or null for a global hook. */
  meetingID: string | null;
  /** The `eventID` parameter as sent (a comma list), or null. */
  eventID: string | null;
  /** Whether raw events were requested (`getRaw`). */
  getRaw: boolean;
}

/**
 * Behaviour of the fake towards an API request: `ok` answers as BBB; `hang` never answers; `garbage` answers
 * an HTML page with 200; `http500` answers HTTP 500; `reset` starts a 200 answer and then breaks the connection
 * (the client sees a network error while reading the body, as after a reset).
 */
export type FakeBbbMode = "ok" | "hang" | "garbage" | "http500" | "reset";

const DEFAULT_DIAL_NUMBER = "613-555-1234";
const TEST_VOICE_BRIDGE = "99999";
const XML_CONTENT_TYPE = "text/xml;charset=utf-8";
const DUPLICATE_WARNING = "This conference was already in existence and may currently be in progress.";
const END_MESSAGE = "A request to end the meeting was sent.  Please wait a few seconds, and then use the " +
  "getMeetingInfo or isMeetingRunning API calls to verify that it was ended.";
const NOT_FOUND_MESSAGE = "A meeting with that ID does not exist";
const API_PREFIX = "/bigbluebutton/api";
const HASH_BY_LENGTH: Record<number, string> = { 40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512" };
const FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"];
const XML_TYPES = ["application/xml", "text/xml"];
const CREATE_TYPES = [...FORM_TYPES, ...XML_TYPES];
const JSON_CONTENT_TYPE = "application/json;charset=utf-8";
const HOOKS_CONTENT_TYPE = "text/xml; charset=utf-8";
/** Checksum failure wording of bbb-web's legacy (RecordingController) code path. */
const LEGACY_CHECKSUM_MESSAGE = "You did not pass the checksum security check";
const RECORDINGS_NOT_FOUND = "We could not find recordings";
const RECORDING_STATES = ["processing", "processed", "published", "unpublished", "deleted"];
/**
 * Calls that do their own checksum and parameter checks in their own order and wording (bbb-web's legacy
 * recording controller, bbb-webhooks), instead of the validation framework's generic checksum and
 * Content-Type checks.
 */
const SELF_CHECKED_CALLS = new Set([
  "getRecordings",
  "publishRecordings",
  "updateRecordings",
  "deleteRecordings",
  "getRecordingTextTracks",
  "putRecordingTextTrack",
  "hooks/create",
  "hooks/list",
  "hooks/destroy",
  "hooks/ping",
]);

/** An XML element: name and either text or child elements (an empty child list renders `<name/>`). */
type XmlNode = [name: string, content: string | number | boolean | XmlNode[]];

/** Escapes text for XML element content and attribute values. */
function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&apos;",
  );
}

/** Renders nodes the way bbb-web's `<#compress>` templates do: no prolog, one element per line. */
function renderXml(node: XmlNode): string {
  const [name, content] = node;
  if (Array.isArray(content)) {
    if (content.length === 0) return `<${name}/>`;
    return `<${name}>\n${content.map(renderXml).join("\n")}\n</${name}>`;
  }
  return `<${name}>${escapeXml(String(content))}</${name}>`;
}

/** Builds a `<response>` document. */
function responseXml(children: XmlNode[]): string {
  return renderXml(["response", children]);
}

/** The FAILED envelope with messageKey and message. */
function failedXml(key: string, message: string): string {
  return responseXml([["returncode", "FAILED"], ["messageKey", key], ["message", message]]);
}

/** Strips control characters and surrounding whitespace like bbb-web's `ParamsUtil.sanitizeString`. */
function sanitize(value: string): string {
  // deno-lint-ignore no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").trim();
}

/** Java `Boolean.parseBoolean`. */
function parseBool(value: string | null | undefined): boolean {
  return value?.toLowerCase() === "true";
}

/** Hex SHA-1 of a string. */
function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Random string from `alphabet` (no modulo bias worth caring about for a fake). */
function randomString(length: number, alphabet = ALNUM): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Java `Date.toString()` in UTC, e.g. `Thu May 09 13:35:28 UTC 2024`. */
function javaDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:` +
    `${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/** Media type of a Content-Type header, lower-cased, without parameters. */
function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * Java `URLDecoder.decode(s, "UTF-8")`: `+` becomes a space and `%xx` runs are decoded as UTF-8 (malformed
 * bytes become U+FFFD). bbb-web throws on a broken `%` escape; the fake leaves it as it is.
 */
function javaUrlDecode(text: string): string {
  return text.replaceAll("+", " ").replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return new TextDecoder().decode(bytes);
  });
}

/** Java `String.split(",")`: trailing empty strings are dropped. */
function javaSplitComma(text: string): string[] {
  const parts = text.split(",");
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/** bbb-web's `ParamsProcessorUtil.decodeIds`: URL-decode the (already decoded) value once more, then split. */
function decodeIds(value: string): string[] {
  return javaSplitComma(javaUrlDecode(value));
}

/** Java `Integer.parseInt`, or undefined where it would throw. */
function javaParseInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= -2147483648 && n <= 2147483647 ? n : undefined;
}

/** Groovy `String.toBoolean()`: `true`, `y` or `1`, trimmed and in any case. */
function groovyToBoolean(text: string): boolean {
  return ["true", "y", "1"].includes(text.trim().toLowerCase());
}

/** `meta_*` parameters like `ParamsProcessorUtil.processMetaParam`: valid names only, lower-cased. */
function metaParams(params: URLSearchParams): Map<string, string> {
  const metas = new Map<string, string>();
  for (const key of new Set(params.keys())) {
    if (/^meta_[a-zA-Z][a-zA-Z0-9-]*$/.test(key)) metas.set(key.slice(5).toLowerCase(), params.get(key)!);
  }
  return metas;
}

/**
 * One getRecordings metadata filter, as `RecordingServiceFileImpl.recordingMatchesMetadata`: `%x%` contains,
 * `%x` ends with, `x%` starts with, otherwise equal. (bbb-web throws on an empty filter value or a lone `%`;
 * the fake treats those as equal-to-empty and match-all.)
 */
function metaFilterMatches(value: string, filter: string): boolean {
  if (filter === "") return value === "";
  const first = filter.startsWith("%");
  const last = filter.endsWith("%");
  if (first && last && filter.length >= 2 && value.includes(filter.slice(1, -1))) return true;
  if (first && value.endsWith(filter.slice(1))) return true;
  if (last && value.startsWith(filter.slice(0, -1))) return true;
  return value === filter;
}

/**
 * The language tags putRecordingTextTrack accepts (`LocaleUtils.toLocale`): `ll`, `lll`, optionally followed
 * by `_` or `-` and a region (`CC` or three digits).
 */
const LANG_PATTERN = /^([a-z]{2,3})(?:[_-]([A-Z]{2}|\d{3}))?$/;

/** Java `Locale.getDisplayLanguage()` in English, e.g. `English` for `en-US`. */
function displayLanguage(language: string): string {
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(language) ?? language;
  } catch {
    return language;
  }
}

/**
 * A 200 answer whose body breaks off: it announces more bytes than it sends and the connection is closed, so the
 * client fails while reading the body, as after a reset.
 */
function brokenResponse(): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("<response><returncode>"));
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": XML_CONTENT_TYPE, "content-length": "4096" } });
}

/** Non-negative integer create parameter, or the default. */
function intParam(params: URLSearchParams, name: string, fallback = 0): number {
  const v = sanitize(params.get(name) ?? "");
  return /^\d+$/.test(v) ? Number(v) : fallback;
}

/** A fake BigBlueButton server listening on 127.0.0.1. Start it with {@linkcode FakeBbb.start}. */
export class FakeBbb {
  /** Shared secret. Mutable: change it to simulate a node whose secret no longer matches. */
  secret: string;
  /** Every API request received, in order (in all modes). */
  readonly requests: ReceivedRequest[] = [];
  /** Meetings on this server, keyed by external meetingID. */
  readonly meetings: Map<string, FakeMeeting> = new Map();
  /** Recordings on this server, keyed by recordID. */
  readonly recordings: Map<string, FakeRecording> = new Map();
  /** Every successful `putRecordingTextTrack` upload, in order. */
  readonly uploads: FakeTextTrackUpload[] = [];
  /** Webhooks registered through `hooks/create`, keyed by hookID, in creation order. */
  readonly hooks: Map<string, FakeHook> = new Map();
  /**
   * How API requests are answered: `ok` normally; `hang` accepts and never answers (the connection is
   * dropped by {@linkcode FakeBbb.stop} / {@linkcode FakeBbb.close}, so the client sees a network error);
   * `garbage` answers `<html>oops</html>` with 200 text/html; `http500` answers HTTP 500.
   */
  mode: FakeBbbMode = "ok";
  /**
   * Per-call modes that override {@linkcode FakeBbb.mode} for one call, e.g. `{ getMeetings: "http500" }`: a
   * bbb-web whose meeting list fails while the meetings themselves keep working.
   */
  callModes: Partial<Record<string, FakeBbbMode>> = {};
  /**
   * A create that BBB performs but answers late: the meeting exists (and is listed) at once, the answer comes
   * after this many ms. 0: at once.
   */
  createDelayMs = 0;
  /**
   * What the API root reveals as `bbbVersion` (`allowRevealOfBBBVersion=true`); empty: hidden, as bbb-web's
   * default.
   */
  bbbVersion = "";
  /**
   * Whether attendee lists mark bots with a `<bot>true</bot>` child (how a BBB release that marks them would; the
   * element name is bbblb's assumption, unverified against BBB). @default false
   */
  marksBots = false;
  /** External meetingIDs that `getMeetings` leaves out although they run (a listing that misses a meeting). */
  readonly hidden: Set<string> = new Set();

  #port: number;
  #keepEnded: boolean;
  #server: Deno.HttpServer | undefined;
  #abort: AbortController | undefined;
  #closed = false;
  #lastRecordingTime = 0;
  #lastHookID = 0;

  private constructor(opts: FakeBbbOptions) {
    this.secret = opts.secret ?? randomString(40);
    this.#port = opts.port ?? 0;
    this.#keepEnded = opts.keepEnded ?? false;
  }

  /** Starts a fake server and resolves once it listens. */
  static start(opts: FakeBbbOptions = {}): Promise<FakeBbb> {
    try {
      const fake = new FakeBbb(opts);
      fake.#listen();
      return Promise.resolve(fake);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The port the server listens on (kept across {@linkcode FakeBbb.stop} / {@linkcode FakeBbb.restart}). */
  get port(): number {
    return this.#port;
  }

  /** Base URL, `http://127.0.0.1:PORT/bigbluebutton/`, as printed by `bbb-conf --secret`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}/bigbluebutton/`;
  }

  /** API base URL: {@linkcode FakeBbb.url} + `api/`. */
  get apiUrl(): string {
    return this.url + "api/";
  }

  /**
   * Adds a meeting as if it had been created directly on this server (not through bbblb). Missing fields get
   * the values a real create would generate. Returns the stored (mutable) meeting.
   */
  addMeeting(meetingID: string, opts: Partial<FakeMeeting> = {}): FakeMeeting {
    const createTime = opts.createTime ?? Date.now();
    const meetingName = opts.meetingName ?? meetingID;
    const ended = opts.ended ?? false;
    const meeting: FakeMeeting = {
      meetingID,
      meetingName,
      internalMeetingID: opts.internalMeetingID ?? `${sha1(meetingID)}-${createTime}`,
      createTime,
      attendeePW: opts.attendeePW ?? randomString(8),
      moderatorPW: opts.moderatorPW ?? randomString(8),
      voiceBridge: opts.voiceBridge ?? this.#freeVoiceBridge(),
      createParams: opts.createParams ?? new URLSearchParams({ name: meetingName, meetingID }),
      participants: opts.participants ?? [],
      videoCount: opts.videoCount ?? 0,
      metadata: opts.metadata ?? {},
      isBreakout: opts.isBreakout ?? false,
      ended,
      endTime: opts.endTime ?? (ended ? Date.now() : 0),
      chat: opts.chat ?? [],
      documents: opts.documents ?? [],
    };
    this.meetings.set(meetingID, meeting);
    return meeting;
  }

  /**
   * Adds a recording of `meetingID` as if the server had recorded and published it. Missing fields get
   * realistic values: `startTime` a fresh millisecond value later than every recording added before,
   * `internalMeetingID = sha1(meetingID) + "-" + startTime`, `recordID = internalMeetingID`, a one-minute
   * duration, state `published` and a presentation playback URL on this server. Returns the stored (mutable)
   * recording; an existing recording with the same recordID is replaced.
   */
  addRecording(meetingID: string, opts: Partial<FakeRecording> = {}): FakeRecording {
    const startTime = opts.startTime ?? Math.max(Date.now(), this.#lastRecordingTime + 1);
    this.#lastRecordingTime = Math.max(this.#lastRecordingTime, startTime);
    const internalMeetingID = opts.internalMeetingID ?? `${sha1(meetingID)}-${startTime}`;
    const recordID = opts.recordID ?? internalMeetingID;
    const state = opts.state ?? "published";
    const recording: FakeRecording = {
      recordID,
      meetingID,
      internalMeetingID,
      name: opts.name ?? meetingID,
      isBreakout: opts.isBreakout ?? false,
      published: opts.published ?? state === "published",
      state,
      startTime,
      endTime: opts.endTime ?? startTime + 60000,
      participants: opts.participants ?? 1,
      metadata: opts.metadata ?? {},
      playbackUrl: opts.playbackUrl ?? `http://127.0.0.1:${this.#port}/playback/presentation/2.3/${recordID}`,
      textTracks: opts.textTracks ?? [],
    };
    if (opts.protected !== undefined) recording.protected = opts.protected;
    this.recordings.set(recordID, recording);
    return recording;
  }

  /**
   * Writes a recording as BBB's publish step leaves it under `/var/bigbluebutton/published`: for each format,
   * `<dir>/<format>/<recordID>/metadata.xml` (the shape bbb-web's `RecMeta.toMetadataXml` writes: id, state,
   * published, times, participants, `<meeting>`, `<meta>` with BBB's own `isBreakout`, `meetingId`,
   * `meetingName` and the create's metadata, `<playback>` with link, processing time, duration and, for
   * presentation, preview images, then `<raw_size>`) and a few media files, `filler` bytes each.
   */
  async writePublished(
    recordID: string,
    dir: string,
    opts: { formats?: string[]; filler?: number } = {},
  ): Promise<void> {
    const r = this.recordings.get(recordID);
    if (!r) throw new Error(`no recording ${recordID}`);
    const base = `http://127.0.0.1:${this.#port}`;
    for (const format of opts.formats ?? ["presentation"]) {
      const folder = `${dir}/${format}/${recordID}`;
      await Deno.mkdir(folder, { recursive: true });
      const link = format === "presentation"
        ? `${base}/playback/presentation/2.3/${recordID}`
        : `${base}/playback/${format}/${recordID}/`;
      const meta: Record<string, string> = {
        isBreakout: String(r.isBreakout),
        meetingId: r.meetingID,
        meetingName: r.name,
        ...r.metadata,
      };
      const images = format === "presentation"
        ? `<extensions><preview><images>${
          [1, 2].map((i) =>
            `<image width="176" height="136" alt="Slide ${i}">${base}/presentation/${recordID}/presentation/d2d9a672040fbde2a47a10bf6c37b6a4b5ae187f-${
              1700000000000 + i
            }/thumbnails/thumb-${i}.png</image>`
          ).join("")
        }</images></preview></extensions>`
        : "";
      const xml =
        `<?xml version="1.0" encoding="UTF-8"?>\n<recording><id>${recordID}</id><state>${
          r.state === "unpublished" ? "unpublished" : "published"
        }</state><published>${r.state !== "unpublished"}</published><start_time>${r.startTime}</start_time>` +
        `<end_time>${r.endTime}</end_time><participants>${r.participants}</participants>` +
        `<meeting id="${r.internalMeetingID}" externalId="${escapeXml(r.meetingID)}" name="${
          escapeXml(r.name)
        }" breakout="${r.isBreakout}"/><meta>${
          Object.entries(meta).map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join("")
        }</meta><playback><format>${format}</format><link>${link}</link><processing_time>4321</processing_time>` +
        `<duration>${
          r.endTime - r.startTime
        }</duration>${images}</playback><raw_size>123456</raw_size></recording>\n`;
      await Deno.writeTextFile(`${folder}/metadata.xml`, xml);
      const filler = new Uint8Array(opts.filler ?? 1000).fill(format.length);
      if (format === "presentation") {
        await Deno.mkdir(`${folder}/video`, { recursive: true });
        await Deno.writeFile(`${folder}/video/webcams.webm`, filler);
        await Deno.writeTextFile(`${folder}/shapes.svg`, "<svg xmlns='http://www.w3.org/2000/svg'/>");
      } else {
        await Deno.writeFile(`${folder}/video-0.m4v`, filler);
      }
    }
  }

  /** Adds a participant to a meeting (as if a user joined directly). Throws for an unknown meeting. */
  addParticipant(
    meetingID: string,
    p: { fullName?: string; role?: "MODERATOR" | "VIEWER"; video?: boolean; bot?: boolean } = {},
  ): void {
    const meeting = this.meetings.get(meetingID);
    if (!meeting) throw new Error(`fake BBB: no meeting ${meetingID}`);
    const userID = "w_" + randomString(12, "abcdefghijklmnopqrstuvwxyz0123456789");
    meeting.participants.push({
      userID,
      fullName: p.fullName ?? `User ${meeting.participants.length + 1}`,
      role: p.role ?? "VIEWER",
      hasVideo: p.video ?? false,
      ...(p.bot ? { bot: true } : {}),
    });
    if (p.video) meeting.videoCount++;
  }

  /**
   * Closes the listener (connections are refused afterwards) but keeps all state. Open connections, including
   * those of hanging requests, are dropped.
   */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    // A non-graceful shutdown: open connections are dropped, including those of requests held in `hang`
    // mode, so nothing is left waiting.
    this.#abort?.abort();
    await server.finished;
  }

  /** Listens again on the same port, with the state kept by {@linkcode FakeBbb.stop}. */
  restart(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("fake BBB: restart() after close()"));
    try {
      if (!this.#server) this.#listen();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Stops for good (see {@linkcode FakeBbb.stop}). Safe to call more than once. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.stop();
  }

  #listen(): void {
    const abort = new AbortController();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: this.#port, signal: abort.signal, onListen: () => {} },
      (req) => this.#handle(req),
    );
    this.#server = server;
    this.#abort = abort;
    this.#port = server.addr.port;
  }

  /** Picks a random 5-digit voice bridge not used by a live meeting here (and not the test bridge). */
  #freeVoiceBridge(): string {
    for (;;) {
      const candidate = randomString(5, "0123456789");
      if (candidate !== TEST_VOICE_BRIDGE && !this.#voiceBridgeInUse(candidate)) return candidate;
    }
  }

  #voiceBridgeInUse(voiceBridge: string): boolean {
    for (const m of this.meetings.values()) {
      if (!m.ended && m.voiceBridge === voiceBridge) return true;
    }
    return false;
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (path === "/html5client/join") {
      return new Response("joined", { headers: { "content-type": "text/html;charset=utf-8" } });
    }
    if (path !== API_PREFIX && !path.startsWith(API_PREFIX + "/")) {
      return new Response("Not Found", { status: 404, headers: { "content-type": "text/plain" } });
    }
    const call = path === API_PREFIX ? "" : path.slice(API_PREFIX.length + 1);

    // The raw query as sent: `new URL(req.url).search` would re-encode it.
    const q = req.url.indexOf("?");
    const rawQuery = q < 0 ? "" : req.url.slice(q + 1);
    const params = new URLSearchParams(rawQuery);
    const contentType = req.headers.get("content-type");
    let body: string | undefined;
    let bytes: Uint8Array<ArrayBuffer> | undefined;
    if (req.body && (this.callModes[call] ?? this.mode) !== "hang") {
      bytes = new Uint8Array(await req.arrayBuffer());
      body = new TextDecoder().decode(bytes);
      if (body !== "" && mediaType(contentType) === FORM_TYPES[0]) {
        for (const [k, v] of new URLSearchParams(body)) params.append(k, v);
      }
    }
    const checksumError = call === "" ? undefined : this.#checkChecksum(call, rawQuery);
    const record: ReceivedRequest = {
      method: req.method,
      call,
      rawQuery,
      params,
      contentType,
      checksumOk: checksumError === undefined,
      at: Date.now(),
    };
    if (body !== undefined) record.body = body;
    this.requests.push(record);

    switch (this.callModes[call] ?? this.mode) {
      case "hang":
        return await this.#hang();
      case "reset":
        return brokenResponse();
      case "garbage":
        return new Response("<html>oops</html>", { headers: { "content-type": "text/html" } });
      case "http500":
        return new Response("Internal Server Error", {
          status: 500,
          headers: { "content-type": "text/plain" },
        });
    }

    if (call === "") {
      return xmlResponse(responseXml([
        ["returncode", "SUCCESS"],
        ["version", "2.0"],
        ["apiVersion", "2.0"],
        ["bbbVersion", this.bbbVersion],
      ]));
    }
    const handler = Object.hasOwn(this.#handlers, call) ? this.#handlers[call] : undefined;
    if (!handler) return xmlResponse(failedXml("unsupportedRequest", "This request is not supported."));
    if (!SELF_CHECKED_CALLS.has(call)) {
      if (checksumError) return xmlResponse(failedXml("checksumError", checksumError));
      if (body) {
        const allowed = call === "create" ? CREATE_TYPES : call === "insertDocument" ? XML_TYPES : FORM_TYPES;
        if (!allowed.includes(mediaType(contentType))) {
          return xmlResponse(
            failedXml("unsupportedContentType", "POST request Content-Type is missing or unsupported"),
          );
        }
      }
    }
    return await handler(params, { method: req.method, path, body, bytes, contentType, checksumError });
  }

  /**
   * Holds a request open for good. Nothing is allocated for it (no timer, no listener), so nothing can leak:
   * when the client gives up, or {@linkcode FakeBbb.stop} drops all connections, Deno discards the request
   * and this promise is simply garbage. (Resolving it, or listening on `req.signal`, would make Deno print
   * its "legacy abort" warning.)
   */
  #hang(): Promise<Response> {
    return new Promise<Response>(() => {});
  }

  /** Verifies the checksum like bbb-web; returns the error message, or undefined if it is fine. */
  #checkChecksum(call: string, rawQuery: string): string | undefined {
    if (this.secret === "") return undefined;
    const query = sanitize(rawQuery);
    const checksum = new URLSearchParams(query).get("checksum");
    if (!checksum) return "You must provide the checksum";
    const rest = query
      .replaceAll(`&checksum=${checksum}`, "")
      .replaceAll(`checksum=${checksum}&`, "")
      .replaceAll(`checksum=${checksum}`, "");
    const algorithm = HASH_BY_LENGTH[checksum.length];
    if (!algorithm) return "Checksums do not match";
    const expected = createHash(algorithm).update(call + rest + this.secret).digest("hex");
    return expected === checksum.toLowerCase() ? undefined : "Checksums do not match";
  }

  /** Validates the meetingID parameter (MeetingIDConstraint); returns an error document or undefined. */
  #meetingIdError(params: URLSearchParams, strict = false): string | undefined {
    const raw = params.get("meetingID") ?? "";
    const id = sanitize(raw);
    if (id === "") return failedXml("missingParamMeetingID", "You must provide a meeting ID");
    if (id.length < 2 || id.length > 256) {
      return failedXml("validationError", "Meeting ID must be between 2 and 256 characters");
    }
    if (id.includes(",")) return failedXml("validationError", "Meeting ID cannot contain ','");
    if (strict && id !== raw) return failedXml("validationError", "Invalid meeting ID");
    return undefined;
  }

  /**
   * Checksum verdict of the legacy recording controller: the `checksum` parameter must be present even before
   * the other parameters are looked at, its value is compared later (see the callers). Returns true when the
   * parameter is present (or checks are disabled).
   */
  #legacyChecksumPresent(params: URLSearchParams): boolean {
    return this.secret === "" || sanitize(params.get("checksum") ?? "") !== "";
  }

  readonly #handlers: Record<
    string,
    (params: URLSearchParams, ctx: CallContext) => Response | Promise<Response>
  > = {
    create: async (params) => {
      const answer = this.#create(params);
      if (this.createDelayMs > 0) await new Promise((r) => setTimeout(r, this.createDelayMs));
      return answer;
    },
    join: (params) => this.#join(params),
    end: (params) => this.#end(params),
    isMeetingRunning: (params) => this.#isMeetingRunning(params),
    getMeetingInfo: (params) => this.#getMeetingInfo(params),
    getMeetings: () => this.#getMeetings(),
    getSessions: () => this.#getSessions(),
    insertDocument: (params, ctx) => this.#insertDocument(params, ctx),
    sendChatMessage: (params) => this.#sendChatMessage(params),
    getRecordings: (params, ctx) => this.#getRecordings(params, ctx),
    publishRecordings: (params, ctx) => this.#publishRecordings(params, ctx),
    updateRecordings: (params, ctx) => this.#updateRecordings(params, ctx),
    deleteRecordings: (params, ctx) => this.#deleteRecordings(params, ctx),
    getRecordingTextTracks: (params, ctx) => this.#getRecordingTextTracks(params, ctx),
    putRecordingTextTrack: (params, ctx) => this.#putRecordingTextTrack(params, ctx),
    "hooks/create": (params, ctx) => this.#hooksCreate(params, ctx),
    "hooks/list": (params, ctx) => this.#hooksList(params, ctx),
    "hooks/destroy": (params, ctx) => this.#hooksDestroy(params, ctx),
    "hooks/ping": (_params, ctx) => hooksGetOnly(ctx) ?? new Response("bbb-webhooks API up!"),
  };

  #create(params: URLSearchParams): Response {
    const idError = this.#meetingIdError(params, true);
    if (idError) return xmlResponse(idError);
    const meetingID = sanitize(params.get("meetingID")!);
    const name = sanitize(params.get("name") ?? "");
    if (name === "") return xmlResponse(failedXml("validationError", "You must provide a meeting name"));
    if (name.length < 2 || name.length > 256) {
      return xmlResponse(failedXml("validationError", "Meeting name must be between 2 and 256 characters"));
    }
    const voiceBridge = params.has("voiceBridge") ? sanitize(params.get("voiceBridge")!) : undefined;
    if (voiceBridge !== undefined && !/^-?\d+$/.test(voiceBridge)) {
      return xmlResponse(failedXml("validationError", "Voice bridge must be an integer"));
    }
    const isBreakout = parseBool(params.get("isBreakout"));
    if (isBreakout && !sanitize(params.get("parentMeetingID") ?? "")) {
      return xmlResponse(
        failedXml("parentMeetingIdMissing", "No parent meeting ID was provided for the breakout room"),
      );
    }

    const attendeePW = sanitize(params.get("attendeePW") ?? "") || undefined;
    const moderatorPW = sanitize(params.get("moderatorPW") ?? "") || undefined;
    const existing = this.meetings.get(meetingID);
    if (existing && !existing.ended) {
      const samePasswords = (attendeePW === undefined && moderatorPW === undefined) ||
        (attendeePW === existing.attendeePW && moderatorPW === existing.moderatorPW);
      if (!samePasswords) {
        return xmlResponse(failedXml(
          "idNotUnique",
          "A meeting already exists with that meeting ID.  Please use a different meeting ID.",
        ));
      }
      return xmlResponse(this.#createXml(existing, "duplicateWarning", DUPLICATE_WARNING));
    }
    if (voiceBridge !== undefined && this.#voiceBridgeInUse(voiceBridge)) {
      return xmlResponse(responseXml([
        ["returncode", "FAILED"],
        ["errors", [["error", [
          ["key", "nonUniqueVoiceBridge"],
          ["message", "The selected voice bridge is already in use."],
        ]]]],
      ]));
    }

    const metadata: Record<string, string> = {};
    for (const [k, v] of params) {
      if (/^meta_[a-zA-Z][a-zA-Z0-9-]*$/.test(k)) metadata[k.slice(5).toLowerCase()] = sanitize(v);
    }
    const meeting = this.addMeeting(meetingID, {
      meetingName: name,
      attendeePW,
      moderatorPW,
      voiceBridge,
      createParams: new URLSearchParams(params),
      metadata,
      isBreakout,
    });
    return xmlResponse(this.#createXml(meeting, "", ""));
  }

  #createXml(m: FakeMeeting, messageKey: string, message: string): string {
    const nodes: XmlNode[] = [
      ["returncode", "SUCCESS"],
      ["meetingID", m.meetingID],
      ["internalMeetingID", m.internalMeetingID],
      ["parentMeetingID", m.isBreakout ? parentOf(m) : "bbb-none"],
    ];
    if (m.attendeePW) nodes.push(["attendeePW", m.attendeePW]);
    if (m.moderatorPW) nodes.push(["moderatorPW", m.moderatorPW]);
    nodes.push(
      ["createTime", m.createTime],
      ["voiceBridge", m.voiceBridge],
      ["dialNumber", dialNumberOf(m)],
      ["createDate", javaDate(m.createTime)],
      ["hasUserJoined", m.participants.length > 0],
      ["duration", intParam(m.createParams, "duration")],
      ["hasBeenForciblyEnded", m.ended],
      ["messageKey", messageKey],
      ["message", message],
    );
    return responseXml(nodes);
  }

  #join(params: URLSearchParams): Response {
    const idError = this.#meetingIdError(params);
    if (idError) return xmlResponse(idError);
    const fullName = sanitize(params.get("fullName") ?? "");
    if (fullName === "") return xmlResponse(failedXml("missingParamFullName", "You must provide your name"));
    const meeting = this.meetings.get(sanitize(params.get("meetingID")!));
    if (!meeting) return xmlResponse(failedXml("invalidMeetingIdentifier", NOT_FOUND_MESSAGE));
    if (meeting.ended) {
      return xmlResponse(
        failedXml("meetingForciblyEnded", "You can not join a meeting that has already been forcibly ended"),
      );
    }
    const createTime = params.get("createTime");
    if (createTime !== null) {
      const t = sanitize(createTime);
      if (!/^-?\d+$/.test(t) || Number(t) !== meeting.createTime) {
        return xmlResponse(failedXml(
          "mismatchCreateTimeParam",
          "The createTime parameter submitted mismatches with the current meeting.",
        ));
      }
    }

    const roleParam = sanitize(params.get("role") ?? "").toLowerCase();
    const password = sanitize(params.get("password") ?? "");
    let role: "MODERATOR" | "VIEWER";
    if (roleParam === "moderator" || roleParam === "viewer") {
      role = roleParam === "moderator" ? "MODERATOR" : "VIEWER";
    } else if (password !== "") {
      if (!meeting.moderatorPW || !meeting.attendeePW) {
        return xmlResponse(failedXml(
          "Params required",
          "You must send the 'role' parameter, since this meeting doesn't have any password.",
        ));
      }
      if (password === meeting.moderatorPW) role = "MODERATOR";
      else if (password === meeting.attendeePW) role = "VIEWER";
      else return xmlResponse(failedXml("Params required", "You must enter a valid password"));
    } else {
      return xmlResponse(failedXml(
        "Params required",
        "You must either send the valid role of the user, or the password, sould the meeting has one.",
      ));
    }
    const maxUsers = intParam(meeting.createParams, "maxParticipants");
    if (maxUsers > 0 && meeting.participants.length >= maxUsers) {
      return xmlResponse(failedXml(
        "maxParticipantsReached",
        "The number of participants allowed for this meeting has been reached.",
      ));
    }

    const lower = "abcdefghijklmnopqrstuvwxyz0123456789";
    const internalUserID = "w_" + randomString(12, lower);
    const authToken = randomString(12, lower);
    const sessionToken = randomString(16, lower);
    const customdata: Record<string, string> = {};
    for (const [k, v] of params) {
      const m = /^userdata-([A-Za-z_][A-Za-z0-9_.-]*)$/.exec(k);
      if (m) customdata[m[1]] = sanitize(v);
    }
    const participant: FakeParticipant = {
      userID: sanitize(params.get("userID") ?? "") || internalUserID,
      fullName,
      role,
      hasVideo: false,
      internalUserID,
    };
    if (parseBool(params.get("bot"))) participant.bot = true;
    if (Object.keys(customdata).length > 0) participant.customdata = customdata;
    meeting.participants.push(participant);

    const clientUrl = `http://127.0.0.1:${this.#port}/html5client/join?sessionToken=${sessionToken}`;
    const redirect = sanitize(params.get("redirect") ?? "");
    if (redirect === "" || parseBool(redirect)) {
      return new Response(null, {
        status: 302,
        headers: { location: clientUrl, "cache-control": "no-cache" },
      });
    }
    return xmlResponse(responseXml([
      ["returncode", "SUCCESS"],
      ["messageKey", "successfullyJoined"],
      ["message", "You have joined successfully."],
      ["meeting_id", meeting.internalMeetingID],
      ["user_id", internalUserID],
      ["auth_token", authToken],
      ["session_token", sessionToken],
      ["guestStatus", "ALLOW"],
      ["url", clientUrl],
    ]));
  }

  #end(params: URLSearchParams): Response {
    const idError = this.#meetingIdError(params);
    if (idError) return xmlResponse(idError);
    const meetingID = sanitize(params.get("meetingID")!);
    const meeting = this.meetings.get(meetingID);
    if (!meeting) return xmlResponse(failedXml("notFound", NOT_FOUND_MESSAGE));
    if (this.#keepEnded) {
      if (!meeting.ended) {
        meeting.ended = true;
        meeting.endTime = Math.max(Date.now(), meeting.createTime + 1);
        meeting.participants = [];
        meeting.videoCount = 0;
      }
    } else {
      this.meetings.delete(meetingID);
    }
    return xmlResponse(responseXml([
      ["returncode", "SUCCESS"],
      ["messageKey", "sentEndMeetingRequest"],
      ["message", END_MESSAGE],
    ]));
  }

  #isMeetingRunning(params: URLSearchParams): Response {
    const idError = this.#meetingIdError(params);
    if (idError) return xmlResponse(idError);
    const meeting = this.meetings.get(sanitize(params.get("meetingID")!));
    return xmlResponse(responseXml([["returncode", "SUCCESS"], ["running", isRunning(meeting)]]));
  }

  #getMeetingInfo(params: URLSearchParams): Response {
    const idError = this.#meetingIdError(params);
    if (idError) return xmlResponse(idError);
    const meeting = this.meetings.get(sanitize(params.get("meetingID")!));
    if (!meeting) return xmlResponse(failedXml("notFound", NOT_FOUND_MESSAGE));
    return xmlResponse(responseXml([["returncode", "SUCCESS"], ...this.#meetingNodes(meeting)]));
  }

  #getMeetings(): Response {
    const meetings = [...this.meetings.values()].filter((m) => !this.hidden.has(m.meetingID));
    if (meetings.length === 0) {
      return xmlResponse(responseXml([
        ["returncode", "SUCCESS"],
        ["meetings", []],
        ["messageKey", "noMeetings"],
        ["message", "no meetings were found on this server"],
      ]));
    }
    return xmlResponse(responseXml([
      ["returncode", "SUCCESS"],
      ["meetings", meetings.map((m): XmlNode => ["meeting", this.#meetingNodes(m)])],
    ]));
  }

  /**
   * getSessions (no parameters): one `<session>` per joined user of a meeting not ended, with the meeting's
   * *internal* ID, its name and the user's name and role, as the BBB API docs describe it (the element names
   * beyond those are unverified); none: `noSessions`, shaped like getMeetings' `noMeetings`.
   */
  #getSessions(): Response {
    const sessions: XmlNode[] = [];
    for (const m of this.meetings.values()) {
      if (m.ended) continue;
      for (const p of m.participants) {
        sessions.push(["session", [
          ["meetingID", m.internalMeetingID],
          ["meetingName", m.meetingName],
          ["userID", p.internalUserID ?? p.userID],
          ["externUserID", p.userID],
          ["fullName", p.fullName],
          ["role", p.role],
        ]]);
      }
    }
    if (sessions.length === 0) {
      return xmlResponse(responseXml([
        ["returncode", "SUCCESS"],
        ["sessions", []],
        ["messageKey", "noSessions"],
        ["message", "no sessions were found on this server"],
      ]));
    }
    return xmlResponse(responseXml([["returncode", "SUCCESS"], ["sessions", sessions]]));
  }

  #insertDocument(params: URLSearchParams, ctx: CallContext): Response {
    const idError = this.#meetingIdError(params);
    if (idError) return xmlResponse(idError);
    const meeting = this.meetings.get(sanitize(params.get("meetingID")!));
    if (!meeting) {
      return xmlResponse(responseXml([
        ["returncode", "FAILED"],
        ["messageKey", "notFound"],
        ["message", `Meeting with id [${params.get("meetingID")}] not found.`],
      ]));
    }
    // An empty body uploads nothing.
    if (ctx.body) meeting.documents.push(ctx.body);
    return xmlResponse(responseXml([
      ["returncode", "SUCCESS"],
      ["messageKey", ""],
      ["message", "Presentation is being uploaded"],
    ]));
  }

  #sendChatMessage(params: URLSearchParams): Response {
    const idError = this.#meetingIdError(params);
    if (idError) return xmlResponse(idError);
    const rawMessage = params.get("message");
    if (rawMessage === null) return xmlResponse(failedXml("nullError", "You must provide the param message"));
    const message = sanitize(rawMessage);
    if (message.length < 1 || message.length > 500) {
      return xmlResponse(failedXml("sizeError", "Param message must be between 1 and 500 characters"));
    }
    const userName = sanitize(params.get("userName") ?? "");
    if (userName.length > 255) {
      return xmlResponse(failedXml("sizeError", "Param userName must not exceed 255 characters"));
    }
    const meeting = this.meetings.get(sanitize(params.get("meetingID")!));
    if (!meeting) return xmlResponse(failedXml("notFound", NOT_FOUND_MESSAGE));
    meeting.chat.push({ userName: userName || "System", message });
    return xmlResponse(responseXml([["returncode", "SUCCESS"], ["messageKey", ""], ["message", ""]]));
  }

  #getRecordings(params: URLSearchParams, ctx: CallContext): Response {
    const p = sanitizedParams(params);
    if (!this.#legacyChecksumPresent(p) || ctx.checksumError) return legacyChecksumError();
    const meetingIDs = p.get("meetingID") ? decodeIds(p.get("meetingID")!) : [];
    let prefixes = p.get("recordID") ? decodeIds(p.get("recordID")!) : [];
    const states = p.get("state") ? decodeIds(p.get("state")!) : [];
    if (prefixes.length === 0 && meetingIDs.length > 0) prefixes = meetingIDs.map(sha1);
    const filters = [...metaParams(p)];
    const found = [...this.recordings.values()]
      .filter((r) =>
        stateIncluded(states, r.state) &&
        (prefixes.length === 0 || prefixes.some((prefix) => r.recordID.startsWith(prefix))) &&
        filters.every(([key, filter]) =>
          Object.hasOwn(r.metadata, key) && metaFilterMatches(r.metadata[key], filter)
        )
      )
      .sort((a, b) => a.startTime - b.startTime || (a.recordID < b.recordID ? -1 : 1));

    // MeetingService.getRecordings2x: paging only with a parseable limit (clamped to 1..100); the offset
    // defaults to 0 when negative or not a number.
    const limit = javaParseInt(p.get("limit") || undefined);
    if (limit === undefined) return xmlResponse(responseXml(recordingsNodes(found)));
    const size = Math.min(100, Math.max(1, limit));
    const parsedOffset = javaParseInt(p.get("offset") || undefined);
    const offset = parsedOffset === undefined || parsedOffset < 0 ? 0 : parsedOffset;
    const page = found.slice(offset, offset + size);
    return xmlResponse(responseXml([
      ...recordingsNodes(page),
      ["pagination", [
        ["pageable", [["offset", offset], ["limit", size], ["paged", true], ["unpaged", false]]],
        ["totalElements", found.length],
        ["empty", page.length === 0],
      ]],
    ]));
  }

  /**
   * The parameter checks shared by publish/update/deleteRecordings, in bbb-web's order: checksum present,
   * recordID present, (publish present), checksum correct. Returns the error response, or the decoded IDs.
   */
  #recordingIdsOrError(p: URLSearchParams, ctx: CallContext, needPublish = false): Response | string[] {
    if (!this.#legacyChecksumPresent(p)) return legacyChecksumError();
    const recordID = p.get("recordID") ?? "";
    if (recordID === "") {
      return xmlResponse(failedXml("missingParamRecordID", "You must specify a recordID."));
    }
    if (needPublish && (p.get("publish") ?? "") === "") {
      return xmlResponse(failedXml("missingParamPublish", "You must specify a publish value true or false."));
    }
    if (ctx.checksumError) return legacyChecksumError();
    const ids = decodeIds(recordID);
    // existAnyRecording: exact IDs, published or unpublished only.
    const exists = [...this.recordings.values()].some((r) =>
      (r.state === "published" || r.state === "unpublished") && ids.includes(r.recordID)
    );
    return exists ? ids : xmlResponse(failedXml("notFound", RECORDINGS_NOT_FOUND));
  }

  /** Recordings whose ID equals one of `ids` ignoring case, in one of `states` (`changeState`). */
  #recordingsByIds(ids: string[], states: FakeRecordingState[]): FakeRecording[] {
    const wanted = new Set(ids.map((id) => id.toLowerCase()));
    return [...this.recordings.values()].filter((r) =>
      states.includes(r.state) && wanted.has(r.recordID.toLowerCase())
    );
  }

  #publishRecordings(params: URLSearchParams, ctx: CallContext): Response {
    const p = sanitizedParams(params);
    const ids = this.#recordingIdsOrError(p, ctx, true);
    if (ids instanceof Response) return ids;
    const publish = p.get("publish")!;
    const target = groovyToBoolean(publish);
    // Only unpublished recordings can be published and only published ones unpublished.
    for (const r of this.#recordingsByIds(ids, [target ? "unpublished" : "published"])) {
      r.state = target ? "published" : "unpublished";
      r.published = target;
    }
    return xmlResponse(
      `<response><returncode>SUCCESS</returncode><published>${escapeXml(publish)}</published></response>`,
    );
  }

  #updateRecordings(params: URLSearchParams, ctx: CallContext): Response {
    const p = sanitizedParams(params);
    const ids = this.#recordingIdsOrError(p, ctx);
    if (ids instanceof Response) return ids;
    const metas = metaParams(p);
    const protect = p.get("protect") ?? "";
    // updateMetaParams: every recording starting with one of the IDs, published, unpublished or deleted.
    const targets = [...this.recordings.values()].filter((r) =>
      (r.state === "published" || r.state === "unpublished" || r.state === "deleted") &&
      ids.some((id) => r.recordID.startsWith(id))
    );
    for (const r of targets) {
      for (const [key, value] of metas) {
        if (value !== "") r.metadata[key] = value;
        else delete r.metadata[key];
      }
      if (protect !== "") r.protected = parseBool(protect);
    }
    return xmlResponse("<response><returncode>SUCCESS</returncode><updated>true</updated></response>");
  }

  #deleteRecordings(params: URLSearchParams, ctx: CallContext): Response {
    const p = sanitizedParams(params);
    const ids = this.#recordingIdsOrError(p, ctx);
    if (ids instanceof Response) return ids;
    for (const r of this.#recordingsByIds(ids, ["published", "unpublished"])) {
      r.state = "deleted";
      r.published = false;
    }
    return xmlResponse("<response><returncode>SUCCESS</returncode><deleted>true</deleted></response>");
  }

  #getRecordingTextTracks(params: URLSearchParams, ctx: CallContext): Response {
    if (!this.#legacyChecksumPresent(params)) return legacyChecksumError();
    const rawID = params.get("recordID") ?? "";
    if (rawID === "") return xmlResponse(failedXml("missingParamRecordID", "You must specify a recordID."));
    if (ctx.checksumError) return legacyChecksumError();
    const recordID = rawID.trim();
    const recording = [...this.recordings.values()].find((r) => r.recordID === recordID);
    if (!recording) {
      return jsonResponse({
        response: {
          returncode: "FAILED",
          messageKey: "noRecordings",
          message: `No recording found for ${recordID}`,
        },
      });
    }
    const tracks = recording.textTracks.map((t) => ({
      href: t.href,
      kind: t.kind,
      label: t.label,
      lang: t.lang,
      source: t.source,
    }));
    return jsonResponse({ response: { returncode: "SUCCESS", tracks } });
  }

  async #putRecordingTextTrack(params: URLSearchParams, ctx: CallContext): Promise<Response> {
    // Grails merges the text fields of a multipart body into the parameters; the file is only in the body.
    let file: File | null = null;
    if (ctx.bytes && mediaType(ctx.contentType) === "multipart/form-data") {
      try {
        const form = await new Response(ctx.bytes, { headers: { "content-type": ctx.contentType! } })
          .formData();
        for (const [key, value] of form) {
          if (typeof value === "string") params.append(key, value);
          else if (key === "file" && file === null) file = value;
        }
      } catch {
        // A malformed multipart body carries no file.
      }
    }
    if (!this.#legacyChecksumPresent(params)) return jsonFailed("paramError", "Missing param checksum.");
    const rawID = params.get("recordID") ?? "";
    if (rawID === "") return jsonFailed("paramError", "Missing param recordID.");
    const recordID = rawID.trim();
    if (ctx.checksumError) return legacyChecksumError();
    // isRecordingExist: exact ID, published or unpublished.
    const recording = [...this.recordings.values()].find((r) =>
      r.recordID === recordID && (r.state === "published" || r.state === "unpublished")
    );
    if (!recording) return jsonFailed("noRecordings", `No recording was found for ${recordID}`);
    const rawKind = params.get("kind") ?? "";
    if (rawKind === "") return jsonFailed("paramError", "Missing param kind.");
    const kind = rawKind.trim();
    if (kind !== "subtitles" && kind !== "captions") {
      return jsonFailed(
        "invalidKind",
        `Invalid kind parameter, expected='subtitles|captions' actual=${kind}`,
      );
    }
    const rawLang = params.get("lang") ?? "";
    if (rawLang === "") return jsonFailed("paramError", "Missing param lang.");
    const lang = rawLang.trim();
    const langMatch = LANG_PATTERN.exec(lang);
    if (!langMatch) return jsonFailed("invalidLang", `Malformed lang param, received=${lang}`);
    const languageTag = langMatch[2] ? `${langMatch[1]}-${langMatch[2]}` : langMatch[1];
    const rawLabel = params.get("label") ?? "";
    const label = rawLabel === "" ? null : rawLabel.trim();
    const upload = file as File | null;
    if (!upload || upload.size === 0) {
      return jsonFailed("empty_uploaded_text_track", "Empty uploaded text track.");
    }
    this.uploads.push({
      recordID,
      kind,
      lang,
      label,
      fileName: upload.name || null,
      content: await upload.text(),
      contentType: upload.type || null,
    });
    // Processing is asynchronous on a real server; the fake lists the track at once.
    recording.textTracks = recording.textTracks.filter((t) => t.lang !== languageTag);
    recording.textTracks.push({
      href: `http://127.0.0.1:${this.#port}/bigbluebutton/textTrack/${recordID}/${languageTag}.vtt`,
      kind,
      label: label ?? displayLanguage(langMatch[1]),
      lang: languageTag,
      source: "upload",
    });
    return jsonResponse({
      response: {
        returncode: "SUCCESS",
        recordId: recordID,
        messageKey: "upload_text_track_success",
        message: "Text track uploaded successfully",
      },
    });
  }

  #hooksCreate(params: URLSearchParams, ctx: CallContext): Response {
    const notGet = hooksGetOnly(ctx);
    if (notGet) return notGet;
    if (ctx.checksumError) return hooksXml(HOOKS_CHECKSUM_ERROR);
    const callbackURL = params.get("callbackURL");
    if (callbackURL === null) {
      return hooksXml(
        hooksFailure("missingParamCallbackURL", "You must specify a callbackURL in the parameters."),
      );
    }
    for (const hook of this.hooks.values()) {
      if (hook.callbackURL === callbackURL) {
        return hooksXml(
          `<response><returncode>SUCCESS</returncode><hookID>${escapeXml(hook.hookID)}</hookID>` +
            "<messageKey>duplicateWarning</messageKey>" +
            "<message>There is already a hook for this callback URL.</message></response>",
        );
      }
    }
    let hookID: string;
    do hookID = String(++this.#lastHookID); while (this.hooks.has(hookID));
    const hook: FakeHook = {
      hookID,
      callbackURL,
      meetingID: params.get("meetingID"),
      eventID: params.get("eventID"),
      getRaw: parseBool(params.get("getRaw")),
    };
    this.hooks.set(hookID, hook);
    return hooksXml(
      `<response><returncode>SUCCESS</returncode><hookID>${hookID}</hookID>` +
        `<permanentHook>false</permanentHook><rawData>${hook.getRaw}</rawData></response>`,
    );
  }

  #hooksList(params: URLSearchParams, ctx: CallContext): Response {
    const notGet = hooksGetOnly(ctx);
    if (notGet) return notGet;
    if (ctx.checksumError) return hooksXml(HOOKS_CHECKSUM_ERROR);
    const meetingID = params.get("meetingID");
    let hooks = [...this.hooks.values()];
    if (meetingID !== null) {
      // The global hooks plus the meeting's, by ID.
      hooks = hooks
        .filter((h) => h.meetingID === null || h.meetingID === meetingID)
        .sort((a, b) => Number(a.hookID) - Number(b.hookID) || (a.hookID < b.hookID ? -1 : 1));
    }
    const items = hooks.map((h) =>
      `<hook><hookID>${escapeXml(h.hookID)}</hookID><callbackURL>${cdata(h.callbackURL)}</callbackURL>` +
      (h.meetingID !== null ? `<meetingID>${cdata(h.meetingID)}</meetingID>` : "") +
      (h.eventID !== null ? `<eventID>${escapeXml(h.eventID)}</eventID>` : "") +
      `<permanentHook>false</permanentHook><rawData>${h.getRaw}</rawData></hook>`
    );
    return hooksXml(`<response><returncode>SUCCESS</returncode><hooks>${items.join("")}</hooks></response>`);
  }

  #hooksDestroy(params: URLSearchParams, ctx: CallContext): Response {
    const notGet = hooksGetOnly(ctx);
    if (notGet) return notGet;
    if (ctx.checksumError) return hooksXml(HOOKS_CHECKSUM_ERROR);
    const hookID = params.get("hookID");
    if (hookID === null) {
      return hooksXml(hooksFailure("missingParamHookID", "You must specify a hookID in the parameters."));
    }
    if (!this.hooks.delete(hookID)) {
      return hooksXml(hooksFailure("destroyMissingHook", "The hook informed was not found."));
    }
    return hooksXml("<response><returncode>SUCCESS</returncode><removed>true</removed></response>");
  }

  /** The children of getMeetingInfo's `<response>` (after returncode) and of getMeetings' `<meeting>`. */
  #meetingNodes(m: FakeMeeting): XmlNode[] {
    const nodes: XmlNode[] = [
      ["meetingName", m.meetingName],
      ["meetingID", m.meetingID],
      ["internalMeetingID", m.internalMeetingID],
      ["createTime", m.createTime],
      ["createDate", javaDate(m.createTime)],
      ["voiceBridge", m.voiceBridge],
      ["dialNumber", dialNumberOf(m)],
    ];
    if (m.attendeePW) nodes.push(["attendeePW", m.attendeePW]);
    if (m.moderatorPW) nodes.push(["moderatorPW", m.moderatorPW]);
    const attendees = m.participants.map((p): XmlNode => {
      const a: XmlNode[] = [
        ["userID", p.userID],
        ["fullName", p.fullName],
        ["role", p.role],
        ["isPresenter", false],
        ["isListeningOnly", false],
        ["hasJoinedVoice", false],
        ["hasVideo", p.hasVideo ?? false],
        ["clientType", "HTML5"],
      ];
      if (p.customdata && Object.keys(p.customdata).length > 0) {
        a.push(["customdata", Object.entries(p.customdata).map(([k, v]): XmlNode => [k, v])]);
      }
      if (this.marksBots) a.push(["bot", p.bot === true]);
      return ["attendee", a];
    });
    nodes.push(
      ["running", isRunning(m)],
      ["duration", intParam(m.createParams, "duration")],
      ["hasUserJoined", m.participants.length > 0],
      ["recording", parseBool(m.createParams.get("record"))],
      ["hasBeenForciblyEnded", m.ended],
      ["startTime", m.createTime],
      ["endTime", m.endTime],
      ["participantCount", m.participants.length],
      ["listenerCount", 0],
      ["voiceParticipantCount", 0],
      ["videoCount", m.videoCount],
      ["maxUsers", intParam(m.createParams, "maxParticipants")],
      ["moderatorCount", m.participants.filter((p) => p.role === "MODERATOR").length],
      ["attendees", attendees],
      ["metadata", Object.entries(m.metadata).map(([k, v]): XmlNode => [k, v])],
      ["isBreakout", m.isBreakout],
    );
    if (m.isBreakout) {
      nodes.push(
        ["parentMeetingID", parentOf(m)],
        ["sequence", intParam(m.createParams, "sequence")],
        ["freeJoin", parseBool(m.createParams.get("freeJoin"))],
      );
    }
    const rooms = [...this.meetings.values()].filter((b) =>
      b.isBreakout && parentOf(b) === m.internalMeetingID
    );
    if (rooms.length > 0) {
      nodes.push(["breakoutRooms", rooms.map((b): XmlNode => ["breakout", b.internalMeetingID])]);
    }
    return nodes;
  }
}

function isRunning(m: FakeMeeting | undefined): boolean {
  return m !== undefined && !m.ended && m.participants.length > 0;
}

function parentOf(m: FakeMeeting): string {
  return sanitize(m.createParams.get("parentMeetingID") ?? "");
}

function dialNumberOf(m: FakeMeeting): string {
  return sanitize(m.createParams.get("dialNumber") ?? "") || DEFAULT_DIAL_NUMBER;
}

function xmlResponse(xml: string): Response {
  return new Response(xml, { headers: { "content-type": XML_CONTENT_TYPE, "cache-control": "no-cache" } });
}

/** What a call handler gets besides the parameters. */
interface CallContext {
  /** HTTP method. */
  method: string;
  /** Request path. */
  path: string;
  /** Body decoded as UTF-8, when there was one. */
  body?: string;
  /** Raw body bytes, when there was a body. */
  bytes?: Uint8Array<ArrayBuffer>;
  /** Content-Type header. */
  contentType: string | null;
  /** The checksum verdict (undefined: fine), for calls that order their own checks. */
  checksumError?: string;
}

/** A copy of the parameters with every value sanitized (the legacy controller's `sanitizeInput`). */
function sanitizedParams(params: URLSearchParams): URLSearchParams {
  return new URLSearchParams([...params].map(([k, v]) => [k, sanitize(v)]));
}

/** `shouldIncludeState`: no states means published and unpublished; `any` means every state. */
function stateIncluded(states: string[], state: FakeRecordingState): boolean {
  if (states.length === 0) return state === "published" || state === "unpublished";
  return states.includes("any") || (RECORDING_STATES.includes(state) && states.includes(state));
}

/** The `<response>` children of getRecordings for these recordings (the noRecordings envelope if none). */
function recordingsNodes(recordings: FakeRecording[]): XmlNode[] {
  if (recordings.length === 0) {
    return [
      ["returncode", "SUCCESS"],
      ["recordings", ""],
      ["messageKey", "noRecordings"],
      ["message", "There are no recordings for the meeting(s)."],
    ];
  }
  return [["returncode", "SUCCESS"], ["recordings", recordings.map(recordingNode)]];
}

/** One `<recording>` of getRecordings, in the order of bbb-web's `RecMetaResponse.toXml`. */
function recordingNode(r: FakeRecording): XmlNode {
  const nodes: XmlNode[] = [
    ["recordID", r.recordID],
    ["meetingID", r.meetingID],
    ["internalMeetingID", r.internalMeetingID],
    ["name", r.name],
    ["isBreakout", r.isBreakout],
    ["published", r.published],
  ];
  if (r.protected !== undefined) nodes.push(["protected", r.protected]);
  const metadata = Object.entries(r.metadata).map(([k, v]): XmlNode => [k, v]);
  nodes.push(
    ["state", r.state],
    ["startTime", r.startTime],
    ["endTime", r.endTime],
    ["participants", r.participants],
    ["metadata", metadata.length > 0 ? metadata : ""],
  );
  if (r.playbackUrl !== "") {
    nodes.push(["playback", [["format", [
      ["type", "presentation"],
      ["url", r.playbackUrl],
      ["processingTime", 0],
      ["length", Math.floor(Math.max(0, r.endTime - r.startTime) / 60000)],
    ]]]]);
  }
  return ["recording", nodes];
}

function legacyChecksumError(): Response {
  return xmlResponse(failedXml("checksumError", LEGACY_CHECKSUM_MESSAGE));
}

/** A JSON answer like Grails' `render(contentType: "application/json")`; `pretty` like JsonBuilder's. */
function jsonResponse(value: unknown, pretty = false): Response {
  return new Response(pretty ? JSON.stringify(value, null, 4) : JSON.stringify(value), {
    headers: { "content-type": JSON_CONTENT_TYPE, "cache-control": "no-cache" },
  });
}

/** RecordingController's JSON `respondWithError`. */
function jsonFailed(key: string, message: string): Response {
  return jsonResponse({ response: { returncode: "FAILED", messageKey: key, message } }, true);
}

/** bbb-webhooks answers: compact XML, `text/xml; charset=utf-8`. */
function hooksXml(xml: string): Response {
  return new Response(xml, { headers: { "content-type": HOOKS_CONTENT_TYPE } });
}

function hooksFailure(key: string, message: string): string {
  return `<response><returncode>FAILED</returncode><messageKey>${key}</messageKey><message>${message}</message>` +
    "</response>";
}

const HOOKS_CHECKSUM_ERROR = hooksFailure("checksumError", "You did not pass the checksum security check.");

/** bbb-webhooks routes GET only; express answers anything else with its 404 page. */
function hooksGetOnly(ctx: CallContext): Response | undefined {
  if (ctx.method === "GET" || ctx.method === "HEAD") return undefined;
  return new Response(
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n` +
      `<body>\n<pre>Cannot ${ctx.method} ${ctx.path}</pre>\n</body>\n</html>\n`,
    { status: 404, headers: { "content-type": "text/html; charset=utf-8" } },
  );
}

/** A CDATA section holding `text`. */
function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll("]]>", "]]]]><![CDATA[>")}]]>`;
}

if (import.meta.main) {
  const opts: FakeBbbOptions = {};
  const args = [...Deno.args];
  while (args.length > 0) {
    const arg = args.shift()!;
    if (arg === "--port") opts.port = Number(args.shift());
    else if (arg === "--secret") opts.secret = args.shift() ?? "";
    else if (arg === "--keep-ended") opts.keepEnded = true;
    else {
      console.error(`usage: fake_bbb.ts [--port N] [--secret S] [--keep-ended]; unknown argument ${arg}`);
      Deno.exit(2);
    }
  }
  const fake = await FakeBbb.start(opts);
  console.log(fake.url);
  console.error(`fake BBB listening; secret: ${fake.secret}; Ctrl-C to stop`);
  Deno.addSignalListener("SIGINT", () => {
    fake.close().then(() => Deno.exit(0));
  });
}
