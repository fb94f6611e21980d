/**
 * A faithful fake BigBlueButton server for bbblb's tests.
 *
 * It speaks the BBB 2.6-3.0 meeting API over a real HTTP socket on 127.0.0.1: the version document,
 * `create`, `join`, `end`, `isMeetingRunning`, `getMeetingInfo` and `getMeetings`. Checksums are verified
 * exactly like bbb-web does (raw query string, literal removal of the checksum, algorithm chosen by the hex
 * length), responses use bbb-web's element names and order, and every received API request is recorded so
 * tests can assert on what bbblb forwarded. Failure modes (`hang`, `garbage`, `http500`) and
 * {@linkcode FakeBbb.stop} / {@linkcode FakeBbb.restart} simulate broken or unreachable nodes.
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
  /** Decoded parameters: the query string, plus form-encoded body parameters if any. */
  params: URLSearchParams;
  /** The request body, when the request had one. */
  body?: string;
  /** The request's Content-Type header. */
  contentType?: string | null;
  /** Whether the checksum verified against the secret at the time of the request. */
  checksumOk: boolean;
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
}

/** Behaviour of the fake towards every API request. */
export type FakeBbbMode = "ok" | "hang" | "garbage" | "http500";

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
const CREATE_TYPES = [...FORM_TYPES, "application/xml", "text/xml"];

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
  /**
   * How API requests are answered: `ok` normally; `hang` accepts and never answers (the connection is
   * dropped by {@linkcode FakeBbb.stop} / {@linkcode FakeBbb.close}, so the client sees a network error);
   * `garbage` answers `<html>oops</html>` with 200 text/html; `http500` answers HTTP 500.
   */
  mode: FakeBbbMode = "ok";

  #port: number;
  #keepEnded: boolean;
  #server: Deno.HttpServer | undefined;
  #abort: AbortController | undefined;
  #closed = false;

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
    };
    this.meetings.set(meetingID, meeting);
    return meeting;
  }

  /** Adds a participant to a meeting (as if a user joined directly). Throws for an unknown meeting. */
  addParticipant(
    meetingID: string,
    p: { fullName?: string; role?: "MODERATOR" | "VIEWER"; video?: boolean } = {},
  ): void {
    const meeting = this.meetings.get(meetingID);
    if (!meeting) throw new Error(`fake BBB: no meeting ${meetingID}`);
    const userID = "w_" + randomString(12, "abcdefghijklmnopqrstuvwxyz0123456789");
    meeting.participants.push({
      userID,
      fullName: p.fullName ?? `User ${meeting.participants.length + 1}`,
      role: p.role ?? "VIEWER",
      hasVideo: p.video ?? false,
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
    if (req.body && this.mode !== "hang") {
      body = await req.text();
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
    };
    if (body !== undefined) record.body = body;
    this.requests.push(record);

    switch (this.mode) {
      case "hang":
        return await this.#hang();
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
        ["bbbVersion", ""],
      ]));
    }
    const handler = this.#handlers[call];
    if (!handler) return xmlResponse(failedXml("unsupportedRequest", "This request is not supported."));
    if (checksumError) return xmlResponse(failedXml("checksumError", checksumError));
    if (body) {
      const allowed = call === "create" ? CREATE_TYPES : FORM_TYPES;
      if (!allowed.includes(mediaType(contentType))) {
        return xmlResponse(
          failedXml("unsupportedContentType", "POST request Content-Type is missing or unsupported"),
        );
      }
    }
    return handler(params);
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

  readonly #handlers: Record<string, (params: URLSearchParams) => Response> = {
    create: (params) => this.#create(params),
    join: (params) => this.#join(params),
    end: (params) => this.#end(params),
    isMeetingRunning: (params) => this.#isMeetingRunning(params),
    getMeetingInfo: (params) => this.#getMeetingInfo(params),
    getMeetings: () => this.#getMeetings(),
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
    };
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
    const meetings = [...this.meetings.values()];
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
