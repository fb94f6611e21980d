import assert from "node:assert/strict";
import { BbbError } from "../bbb/errors.ts";
import { callbackRefusal, checkPolicy, hostAllowed, selfAddresses, urlHost } from "./policy.ts";

const refusal = (f: () => void) => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof BbbError);
    assert.equal(e.messageKey, "validationError");
    return e.message;
  }
  return null;
};

Deno.test("hostAllowed() matches exact hosts, subdomains of *.host, and nothing that merely ends alike", () => {
  assert.ok(hostAllowed("example.org", ["example.org"]));
  assert.ok(hostAllowed("EXAMPLE.org.", ["example.org"]));
  assert.ok(hostAllowed("cdn.example.org", ["*.example.org"]));
  assert.ok(!hostAllowed("example.org", ["*.example.org"]));
  assert.ok(!hostAllowed("badexample.org", ["*.example.org", "example.org"]));
  assert.ok(!hostAllowed("example.org.evil.net", ["example.org"]));
  assert.ok(hostAllowed("anything", ["*"]));
  assert.equal(urlHost("https://user@Slides.Example.org:8443/x.pdf"), "slides.example.org");
  assert.equal(urlHost("ftp://example.org/x"), null);
  assert.equal(urlHost("default"), null);
});

Deno.test("a blocked parameter refuses the create or join and the message names it", () => {
  const policy = { blocked: ["pluginManifests", "meta_Secret-Thing"] };
  const create = (params: [string, string][]) => () => checkPolicy({ call: "create", params }, [policy]);
  assert.match(refusal(create([["meetingID", "m"], ["pluginManifests", "[]"]]))!, /pluginManifests/);
  assert.match(
    refusal(create([["meta_secret-thing", "x"]]))!,
    /meta_secret-thing/,
    "meta_ names without case",
  );
  assert.equal(
    refusal(create([["PluginManifests", "[]"]])),
    null,
    "other names are case-sensitive, as in BBB",
  );
  assert.match(
    refusal(() => checkPolicy({ call: "join", params: [["pluginManifests", "x"]] }, [null, policy]))!,
    /pluginManifests/,
  );
  assert.equal(
    refusal(() => checkPolicy({ call: "end", params: [["pluginManifests", "x"]] }, [policy])),
    null,
  );
});

Deno.test("the URL allow-list checks URL parameters, plugin manifests and XML bodies, and allows all without one", () => {
  const policy = { urlHosts: ["slides.example.org", "*.cdn.example.org"] };
  const check = (call: string, params: [string, string][], xmlBody?: string) => () =>
    checkPolicy({ call, params, xmlBody }, [policy]);
  assert.equal(
    refusal(check("create", [["preUploadedPresentation", "https://slides.example.org/a.pdf"]])),
    null,
  );
  assert.match(
    refusal(check("create", [["preUploadedPresentation", "https://evil.net/a.pdf"]]))!,
    /preUploadedPresentation points to evil\.net/,
  );
  assert.match(
    refusal(
      check("create", [[
        "pluginManifests",
        '[{"url":"https://a.cdn.example.org/m.json"},{"url":"http://x.io/p"}]',
      ]]),
    )!,
    /pluginManifests points to x\.io/,
  );
  assert.match(
    refusal(check("create", [["clientSettingsOverrideJsonUrl", "https://x.io/s.json"]]))!,
    /clientSettingsOverrideJsonUrl/,
  );
  assert.match(refusal(check("join", [["avatarURL", "https://x.io/me.png"]]))!, /avatarURL/);
  assert.equal(refusal(check("join", [["errorRedirectUrl", "logout"]])), null, "a value that is not a URL");
  const body =
    `<modules><module name="presentation"><document url='https://x.io/a.pdf?x=1&amp;y=2' filename="a.pdf"/></module></modules>`;
  assert.match(refusal(check("insertDocument", [["meetingID", "m"]], body))!, /XML body points to x\.io/);
  assert.match(refusal(check("create", [["meetingID", "m"]], body))!, /XML body/);
  assert.equal(
    refusal(
      check(
        "create",
        [],
        `<modules><module name="presentation"><document url="https://slides.example.org/a.pdf"/></module></modules>`,
      ),
    ),
    null,
  );
  // No allow-list (the default): any host, as before.
  assert.equal(
    refusal(() => checkPolicy({ call: "create", params: [["logo", "https://x.io/l.png"]] }, [{}])),
    null,
  );
  // Both the global (default tenant's) and the tenant's list must allow it.
  assert.match(
    refusal(() =>
      checkPolicy({ call: "create", params: [["logo", "https://slides.example.org/l.png"]] }, [
        policy,
        { urlHosts: ["other.org"] },
      ])
    )!,
    /logo/,
  );
});

Deno.test("callbacks never reach bbblb itself or its KV Connect host unless an allow-list names them", () => {
  const self = selfAddresses({
    listenHost: "0.0.0.0",
    port: 8090,
    publicUrl: "https://lb.example.org",
    kv: "https://kv.example.net/abc",
    interfaces: ["10.0.0.5"],
  });
  for (
    const url of [
      "http://127.0.0.1:8090/bigbluebutton/api/create",
      "http://localhost:8090/x",
      "http://[::1]:8090/x",
      "http://10.0.0.5:8090/x",
      "https://lb.example.org/bigbluebutton/api/end",
      "https://kv.example.net:9999/anything",
      // other spellings of the same addresses
      "http://localhost.:8090/x",
      "http://127.0.0.2:8090/x",
      "http://[::ffff:127.0.0.1]:8090/x",
      "http://[::ffff:10.0.0.5]:8090/x",
      "https://lb.example.org./bigbluebutton/api/end",
      "https://KV.example.net./anything",
    ]
  ) {
    assert.match(callbackRefusal(url, [], self) ?? "", /bbblb itself or its store/, url);
  }
  assert.equal(callbackRefusal("http://127.0.0.1:9000/hook", [], self), null, "another port of this machine");
  assert.equal(callbackRefusal("https://lms.example.org/cb", [], self), null);
  assert.match(callbackRefusal("file:///etc/passwd", [], self)!, /not an http/);
  assert.match(callbackRefusal("not a url", [], self)!, /not an absolute URL/);
  const allow = [{ callbackHosts: ["lms.example.org", "127.0.0.1"] }];
  assert.equal(callbackRefusal("https://lms.example.org/cb", allow, self), null);
  assert.match(
    callbackRefusal("https://evil.net/cb", allow, self)!,
    /evil\.net is not an allowed callback host/,
  );
  assert.equal(callbackRefusal("http://127.0.0.1:8090/x", allow, self), null, "named explicitly: allowed");
  // A loopback listen address protects the local names only on its port.
  const local = selfAddresses({ listenHost: "127.0.0.1", port: 8090 });
  assert.match(callbackRefusal("http://localhost:8090/", [], local)!, /bbblb itself/);
  assert.equal(callbackRefusal("http://10.0.0.5:8090/", [], local), null);
});
