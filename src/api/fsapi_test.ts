/**
 * The dial-in gateway's dialplan endpoint, driven the way FreeSWITCH's mod_xml_curl drives it: form-encoded POSTs
 * with channel data, and the answer read as FreeSWITCH's XML document.
 *
 * @module
 */
import assert from "node:assert/strict";
import { XMLParser } from "fast-xml-parser";
import { setup } from "../../tests/harness.ts";
import type { FsapiSettings } from "./fsapi.ts";
import { fsEscape, maskCallerId } from "./fsapi.ts";

const PASSWORD = "gateway-password-1";
const BASIC = `Basic ${btoa(`fsapi:${PASSWORD}`)}`;

/** A harness with the endpoint on, and a function posting channel data as mod_xml_curl does. */
async function gateway(settings: Partial<FsapiSettings> = {}, lines?: string[]) {
  const log = lines
    ? {
      debug() {},
      info: (msg: string, f?: Record<string, unknown>) =>
        void lines.push(`${msg} ${JSON.stringify(f ?? {})}`),
      warn: (msg: string, f?: Record<string, unknown>) =>
        void lines.push(`${msg} ${JSON.stringify(f ?? {})}`),
      error() {},
    }
    : undefined;
  const h = await setup({ servers: 2, fsapi: { password: PASSWORD, ...settings }, log });
  const post = async (fields: Record<string, string>, authorization: string | null = BASIC) => {
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    if (authorization !== null) headers.authorization = authorization;
    return await h.app.request("/bbblb/v1/fsapi", {
      method: "POST",
      headers,
      body: new URLSearchParams({ hostname: "gw", "Hunt-Context": "public", ...fields }).toString(),
    });
  };
  return { h, post };
}

/** The actions of the answer's one extension, as [application, data] pairs; throws unless it is well-formed. */
// deno-lint-ignore no-explicit-any
function actions(xml: string): { doc: Record<string, any>; actions: [string, string | undefined][] } {
  // deno-lint-ignore no-explicit-any
  const doc: Record<string, any> = new XMLParser({
    ignoreAttributes: false,
    parseTagValue: false,
    isArray: (n) => n === "action",
  })
    .parse(xml);
  const list = doc.document?.section?.context?.extension?.condition?.action ?? [];
  return {
    doc,
    actions: list.map((a: Record<string, string>) =>
      [a["@_application"], a["@_data"]] as [string, string | undefined]
    ),
  };
}

const dial = (extra: Record<string, string> = {}) => ({
  section: "dialplan",
  "Caller-Destination-Number": "4930123456",
  "Caller-Caller-ID-Name": "4915112345678",
  ...extra,
});

Deno.test("fsapi answers 404 while --fsapi-password is empty", async () => {
  await using h = await setup({ servers: 1 });
  const res = await h.app.request("/bbblb/v1/fsapi", { method: "POST", body: "section=dialplan" });
  assert.equal(res.status, 404);
  await res.body?.cancel();
});

Deno.test("fsapi refuses requests without user fsapi and the right password", async () => {
  const { h, post } = await gateway();
  await using _ = h;
  for (
    const auth of [
      null,
      `Basic ${btoa(`fsapi:wrong`)}`,
      `Basic ${btoa(`admin:${PASSWORD}`)}`,
      "Basic !!!",
      "Bearer x",
    ]
  ) {
    const res = await post(dial(), auth);
    assert.equal(res.status, 401, String(auth));
    assert.match(res.headers.get("www-authenticate")!, /^Basic /);
    await res.body?.cancel();
  }
});

Deno.test("fsapi gives FreeSWITCH's not-found result for other sections and calls without a destination", async () => {
  const { h, post } = await gateway();
  await using _ = h;
  for (const fields of [{ section: "directory" }, { section: "configuration" }, { section: "dialplan" }]) {
    const res = await post(fields);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /xml/);
    const { doc } = actions(await res.text());
    assert.equal(doc.document["@_type"], "freeswitch/xml");
    assert.equal(doc.document.section["@_name"], "result");
    assert.equal(doc.document.section.result["@_status"], "not found");
  }
});

Deno.test("a call without a PIN is answered and prompted, with the configured tries, timeout and longest call", async () => {
  const { h, post } = await gateway({ pinTries: 4, pinTimeoutMs: 9000, maxDurationMinutes: 90 });
  await using _ = h;
  const { doc, actions: a } = actions(await (await post(dial())).text());
  assert.equal(doc.document.section["@_name"], "dialplan");
  assert.equal(doc.document.section.context["@_name"], "public");
  assert.equal(doc.document.section.context.extension.condition["@_field"], "destination_number");
  assert.equal(doc.document.section.context.extension.condition["@_expression"], "^4930123456$");
  assert.deepEqual(a[0], ["answer", undefined]);
  assert.deepEqual(a[1], ["sched_hangup", "+5400 normal_clearing"]);
  assert.ok(a.some(([app, data]) => app === "set" && data === "bbblb_pin_tries=1"));
  const prompt = a.find(([app]) => app === "play_and_get_digits")![1]!.split(" ");
  assert.deepEqual([prompt[2], prompt[3], prompt[4], prompt[7]], ["4", "9000", "#", "pin"]);
  assert.deepEqual(a.at(-1), ["transfer", "${pin} XML public"]);
  // without a longest call, no sched_hangup
  const { h: h2, post: post2 } = await gateway();
  await using _2 = h2;
  assert.ok(!actions(await (await post2(dial())).text()).actions.some(([app]) => app === "sched_hangup"));
});

Deno.test("a PIN of a running meeting or one of its breakout rooms is bridged to that meeting's server", async () => {
  const lines: string[] = [];
  const { h, post } = await gateway({}, lines);
  await using _ = h;
  await h.text("create", { meetingID: "phone-room", name: "Phone room", voiceBridge: "72345" });
  const server = h.fakes.findIndex((f) => f.meetings.has("phone-room"));
  const host = new URL(h.fakes[server].apiUrl).host;
  for (const pin of ["72345", "723453", "7234516"]) {
    const { actions: a } = actions(
      await (await post(dial({ "Caller-Destination-Number": pin, variable_pin: pin }))).text(),
    );
    assert.deepEqual(a.at(-1), ["bridge", `sofia/external/${pin}@${host}`], pin);
    assert.deepEqual(a[0], ["set", "effective_caller_id_name=491511234XXXX"]);
  }
  assert.ok(lines.some((l) => l.startsWith("dial-in call bridged")));
  assert.ok(lines.every((l) => !l.includes("4915112345678")), "the caller's number is masked in the log");
});

Deno.test("an unknown PIN is prompted again, and after the last try the call is hung up", async () => {
  const { h, post } = await gateway({ pinTries: 2 });
  await using _ = h;
  const first = actions(
    await (await post(dial({ "Caller-Destination-Number": "11111", variable_pin: "11111" }))).text(),
  );
  assert.ok(first.actions.some(([app, data]) => app === "set" && data === "bbblb_pin_tries=2"));
  assert.ok(first.actions.some(([app]) => app === "play_and_get_digits"));
  const last = actions(
    await (await post(
      dial({ "Caller-Destination-Number": "22222", variable_pin: "22222", variable_bbblb_pin_tries: "2" }),
    )).text(),
  );
  assert.deepEqual(last.actions.at(-1), ["hangup", "NORMAL_CLEARING"]);
  assert.ok(!last.actions.some(([app]) => app === "bridge" || app === "play_and_get_digits"));
});

Deno.test("hostile channel data is escaped for XML and for FreeSWITCH's ${} expansion", async () => {
  const { h, post } = await gateway();
  await using _ = h;
  await h.text("create", { meetingID: "safe-room", name: "Safe room", voiceBridge: "73456" });
  const hostile = '1${system(rm -rf /)}"/><action application="bridge" data="x"/>&\\$${x}';
  const res = await post(dial({
    "Caller-Destination-Number": hostile,
    "Caller-Caller-ID-Name": `Eve \${hangup()} <b>&"`,
    "Hunt-Context": 'public"/><x',
  }));
  const text = await res.text();
  const { doc, actions: a } = actions(text); // still one well-formed document
  assert.equal(doc.document.section.context["@_name"], "public");
  const expression = doc.document.section.context.extension.condition["@_expression"] as string;
  // Every $ is escaped for FreeSWITCH, and the value is matched literally.
  assert.ok(!/(^|[^\\])\$\{/.test(expression), expression);
  assert.ok(expression.startsWith("^1\\\\\\$\\\\{system"), expression);
  assert.ok(expression.endsWith("\\\\\\$\\\\{x\\\\}$"), expression);
  assert.ok(!a.some(([app]) => app === "bridge"));
  // A hostile caller name on a bridged call.
  const bridged = actions(
    await (await post(dial({
      "Caller-Destination-Number": "73456",
      variable_pin: "73456",
      "Caller-Caller-ID-Name": `Eve \${hangup()} <b>&"`,
    }))).text(),
  );
  assert.deepEqual(bridged.actions[0], ["set", 'effective_caller_id_name=Eve \\${hangup()} <b>&"']);
  assert.equal(fsEscape("a\\b$c"), "a\\\\b\\$c");
});

Deno.test("maskCallerId hides the last four digits of a number and respects the caller's privacy flags", () => {
  assert.equal(maskCallerId("4915112345678", false, false), "491511234XXXX");
  assert.equal(maskCallerId("123", false, false), "XXX");
  assert.equal(maskCallerId("4915112345678", false, true), "Unavailable");
  assert.equal(maskCallerId("Alice", false, false), "Alice");
  assert.equal(maskCallerId("Alice", true, false), "Unavailable");
  assert.equal(maskCallerId(null, false, false), "Unavailable");
});
