/**
 * `POST /bbblb/v1/fsapi`: the dialplan endpoint of one FreeSWITCH dial-in gateway in front of the cluster, as
 * Scalelite's `/fsapi` (blindsidenetworks/scalelite `app/controllers/fsapi_controller.rb` and
 * `app/views/fsapi/*.xml.builder`). FreeSWITCH's `mod_xml_curl` posts the call's channel data form-encoded
 * (`section`, `Caller-Destination-Number`, `Caller-Caller-ID-Name`, `Hunt-Context`, every channel variable as
 * `variable_<name>`, …) and reads back a `<document type="freeswitch/xml">`:
 *
 * - a section other than `dialplan`, or no destination number: the "not found" result
 *   (`<section name="result"><result status="not found"/>`), and FreeSWITCH falls back to its own files;
 * - no `pin` variable yet: answer, prompt for the PIN (`play_and_get_digits` into `pin`) and transfer the call
 *   to the digits, which makes FreeSWITCH ask again with `variable_pin` set;
 * - a PIN of a running meeting (or of one of its breakout rooms): bridge the call to that meeting's BBB server
 *   (`sofia/external/<pin>@<host>`), the caller's number masked in the name shown in the meeting;
 * - an unknown PIN: say so and prompt again, at most `pinTries` PINs per call (counted in the channel variable
 *   `bbblb_pin_tries`), then hang up.
 *
 * Every value written into the XML is escaped for XML and for FreeSWITCH's `${…}` expansion (a backslash before
 * `$` and `\`, as Scalelite's `FsapiHelper#fs_escape` after its security fix; FreeSWITCH's
 * `switch_event_expand_headers_check` in `src/switch_event.c` expands them), and the destination number is
 * matched literally (regex characters escaped). Caller numbers never reach a log unmasked.
 *
 * @module
 */
import type { Context } from "hono";
import { tokenMatches } from "./admin.ts";
import type { Logger } from "../log.ts";
import { routeVoiceBridge } from "../cluster/voice_bridge.ts";
import { getServer } from "../store/servers.ts";

/** The settings of the endpoint (`--fsapi-*`). */
export interface FsapiSettings {
  /** The HTTP Basic password of user `fsapi`; empty: the endpoint answers 404. */
  password: string;
  /** Wrong or missing PINs a call may enter before it is hung up (also `play_and_get_digits`' tries). @default 3 */
  pinTries?: number;
  /** How long the prompt waits for the digits, in ms. @default 7000 */
  pinTimeoutMs?: number;
  /** Longest call, in minutes (`sched_hangup`); 0: no limit. @default 0 */
  maxDurationMinutes?: number;
}

/** Largest form body accepted (FreeSWITCH posts a few KiB of channel data). */
const MAX_BODY = 256 * 1024;

/** Escape a value for XML text and attributes. */
export function xmlEscape(v: string): string {
  return v.replace(/[&<>"']/g, (c) => XML_ENTITIES[c]);
}

const XML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * Escape a value for FreeSWITCH's variable expansion (`${…}`, `$${…}`): a backslash before every `$` and `\`
 * (Scalelite's `fs_escape`; see the module doc). Control characters are dropped: no channel data needs them.
 */
export function fsEscape(v: string): string {
  // deno-lint-ignore no-control-regex
  return v.replace(/[\u0000-\u001f\u007f]/g, "").replace(/[\\$]/g, (c) => `\\${c}`);
}

/** A value as written into the dialplan XML: FreeSWITCH-escaped, then XML-escaped. */
function esc(v: string): string {
  return xmlEscape(fsEscape(v));
}

/** A regular expression (PCRE) matching exactly `v`, escaped for the XML (the anchors stay unescaped). */
function literalRegex(v: string): string {
  return `^${esc(v.replace(/[.*+?^${}()|[\]\\/]/g, (c) => `\\${c}`))}$`;
}

/**
 * Mask a caller number as Scalelite does: the last four digits become `X`; a caller's name that is not a number
 * is kept unless the caller hid it.
 */
export function maskCallerId(name: string | null, hideName: boolean, hideNumber: boolean): string {
  if (name && /^\d+$/.test(name)) {
    if (hideNumber) return "Unavailable";
    return name.slice(0, -4).padEnd(name.length, "X");
  }
  return name && !hideName ? name : "Unavailable";
}

/** FreeSWITCH's "not found" answer: the section is left to its own configuration. */
export const NOT_FOUND = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<document type="freeswitch/xml">
  <section name="result">
    <result status="not found"/>
  </section>
</document>
`;

/** One dialplan document with one extension matching the destination number. */
function dialplan(
  context: string,
  extension: string,
  destination: string,
  actions: [string, string?][],
): string {
  const lines = actions.map(([app, data]) =>
    data === undefined
      ? `          <action application="${app}"/>`
      : `          <action application="${app}" data="${data}"/>`
  );
  return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<document type="freeswitch/xml">
  <section name="dialplan" description="bbblb dial-in">
    <context name="${esc(context)}">
      <extension name="${extension}">
        <condition field="destination_number" expression="${literalRegex(destination)}">
${lines.join("\n")}
        </condition>
      </extension>
    </context>
  </section>
</document>
`;
}

/** What {@linkcode fsapi} needs. */
export interface FsapiDeps {
  kv: Deno.Kv;
  log: Logger;
  settings: FsapiSettings;
}

/** Answer one `mod_xml_curl` request (see the module doc). */
export async function fsapi(deps: FsapiDeps, c: Context): Promise<Response> {
  const { settings } = deps;
  if (settings.password === "") return new Response("not found", { status: 404 });
  const auth = c.req.header("authorization")?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  let user = "", password = "";
  try {
    const decoded = auth
      ? new TextDecoder().decode(Uint8Array.from(atob(auth[1]), (ch) => ch.charCodeAt(0)))
      : "";
    [user, password] = [decoded.slice(0, decoded.indexOf(":")), decoded.slice(decoded.indexOf(":") + 1)];
  } catch { /* not base64: refused below */ }
  if (!auth || user !== "fsapi" || !tokenMatches(settings.password, password)) {
    return new Response("unauthorized", {
      status: 401,
      headers: { "www-authenticate": 'Basic realm="bbblb fsapi"', "content-type": "text/plain" },
    });
  }
  const raw = new Uint8Array(await c.req.arrayBuffer());
  if (raw.length > MAX_BODY) return new Response("request too large", { status: 413 });
  const form = new URLSearchParams(new TextDecoder().decode(raw));
  const xml = (body: string) =>
    new Response(body, { headers: { "content-type": "text/xml; charset=utf-8" } });
  const destination = form.get("Caller-Destination-Number") ?? "";
  if (form.get("section") !== "dialplan" || destination === "") return xml(NOT_FOUND);

  const huntContext = form.get("Hunt-Context") ?? form.get("Caller-Context") ?? "";
  const context = /^[A-Za-z0-9_-]{1,64}$/.test(huntContext) ? huntContext : "public";
  const tries = Math.max(1, settings.pinTries ?? 3);
  const prompt = (n: number): [string, string?][] => [
    ["set", `bbblb_pin_tries=${n}`],
    [
      "play_and_get_digits",
      `1 20 ${tries} ${settings.pinTimeoutMs ?? 7000} # conference/conf-enter_conf_pin.wav ` +
      "conference/conf-bad-pin.wav pin \\d+",
    ],
    ["transfer", `\${pin} XML ${context}`],
  ];
  const pin = form.get("variable_pin") ?? "";
  if (pin === "") {
    const minutes = settings.maxDurationMinutes ?? 0;
    deps.log.info("dial-in call: prompting for the PIN");
    return xml(dialplan(context, "bbblb_prompt_pin", destination, [
      ["answer"],
      ...(minutes > 0 ? [["sched_hangup", `+${minutes * 60} normal_clearing`] as [string, string]] : []),
      ["sleep", "500"],
      ["playback", "ivr/ivr-welcome.wav"],
      ["sleep", "200"],
      ...prompt(1),
    ]));
  }

  const route = await routeVoiceBridge(deps.kv, pin);
  const server = route && await getServer(deps.kv, route.meeting.serverId);
  if (!route || !server) {
    const used = Number(form.get("variable_bbblb_pin_tries")) || 1;
    if (used >= tries) {
      deps.log.info("dial-in call: no meeting with the PIN; hanging up", { tries: used });
      return xml(dialplan(context, "bbblb_hangup", destination, [
        ["playback", "conference/conf-bad-pin.wav"],
        ["hangup", "NORMAL_CLEARING"],
      ]));
    }
    deps.log.info("dial-in call: no meeting with the PIN; prompting again", { tries: used });
    return xml(dialplan(context, "bbblb_reprompt_pin", destination, [
      ["playback", "conference/conf-bad-pin.wav"],
      ["sleep", "500"],
      ...prompt(used + 1),
    ]));
  }

  const callerName = form.get("Caller-Caller-ID-Name");
  const callerId = maskCallerId(
    callerName,
    form.get("Caller-Privacy-Hide-Name") === "true",
    form.get("Caller-Privacy-Hide-Number") === "true",
  );
  const host = new URL(server.apiUrl).host;
  deps.log.info("dial-in call bridged", {
    meetingID: route.meeting.meetingID,
    tenant: route.meeting.tenant || undefined,
    server: server.id,
    breakout: route.breakout,
    // Only a masked number, never a caller's name.
    caller: callerName && /^\d+$/.test(callerName) ? maskCallerId(callerName, true, false) : undefined,
  });
  return xml(dialplan(context, "bbblb_bridge", destination, [
    ["set", `effective_caller_id_name=${esc(callerId)}`],
    ["bridge", `sofia/external/${esc(pin)}@${esc(host)}`],
  ]));
}
