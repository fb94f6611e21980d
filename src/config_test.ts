/**
 * Tests of the settings layers: flags over environment over config file over defaults, the env-style file
 * format, and every bad value reported at once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError, displayValue, layeredEnv, MASK, parseConfigFile, serveConfig } from "./config.ts";
import { SETTINGS } from "./settings.ts";

const noEnv = () => undefined;
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("a config file takes KEY=VALUE lines with or without the BBBLB_ prefix, quotes and comments", () => {
  const file = parseConfigFile(
    [
      "# bbblb settings",
      "",
      "PORT=9000",
      "BBBLB_LOG_LEVEL = debug",
      'export SECRET="a secret with spaces"',
      "logout_url='https://example.org/bye'",
      "  # indented comment",
    ].join("\n"),
    "/etc/bbblb/bbblb.env",
  );
  const config = serveConfig({}, layeredEnv(noEnv, file));
  assert.equal(config.port, 9000);
  assert.equal(config.logLevel, "debug");
  assert.deepEqual(config.secrets, ["a secret with spaces"]);
  assert.equal(config.logoutUrl, "https://example.org/bye");
  assert.equal(file.values.get("BBBLB_PORT")?.line, 3);
});

Deno.test("an unknown key in a config file is an error naming the key and its line", () => {
  assert.throws(
    () => parseConfigFile("PORT=9000\n# ok\nBBBLB_PROT=9001\n", "bbblb.env"),
    (e: unknown) => e instanceof ConfigError && e.message === 'bbblb.env:3: unknown setting "BBBLB_PROT"',
  );
});

Deno.test("a line that is not KEY=VALUE, or one naming another config file, is refused with its line", () => {
  assert.throws(
    () => parseConfigFile("just words\nCONFIG=/other.env\n", "f.env"),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.problems[0] === "f.env:1: not a KEY=VALUE line" &&
      /^f\.env:2: a config file cannot name another config file/.test(e.problems[1]),
  );
});

Deno.test("flags win over the environment, the environment over the file, the file over defaults", () => {
  const file = parseConfigFile("PORT=9001\nHOST=10.0.0.1\nPOLL_INTERVAL=30\n", "f.env");
  const env = layeredEnv(envOf({ BBBLB_PORT: "9002", BBBLB_HOST: "10.0.0.2" }), file);
  const config = serveConfig({ port: "9003" }, env);
  assert.equal(config.port, 9003); // flag
  assert.equal(config.host, "10.0.0.2"); // environment over file
  assert.equal(config.pollIntervalSeconds, 30); // file over default
  assert.equal(config.backendTimeoutMs, 5000); // default
});

Deno.test("every bad value is reported in the settings' order, each naming its flag and variable, in one error", () => {
  assert.throws(
    () =>
      serveConfig(
        { port: "70000", logLevel: "loud" },
        envOf({ BBBLB_POLL_INTERVAL: "0", BBBLB_ADMIN_TOKEN: "short" }),
      ),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems, [
        '--port / BBBLB_PORT: "70000" is not a number from 0 to 65535',
        '--poll-interval / BBBLB_POLL_INTERVAL: "0" is not a number from 1 to 3600',
        '--log-level / BBBLB_LOG_LEVEL: "loud" is not one of debug, info, warn, error',
        "--admin-token / BBBLB_ADMIN_TOKEN: needs at least 16 characters and no spaces",
      ]);
      assert.ok(!e.message.includes("\n"), "the message must fit one line");
      return true;
    },
  );
});

Deno.test("serveConfig(flags, env) without a file keeps working as before", () => {
  const config = serveConfig(
    { secret: "NEW-secret-1,OLD-secret-2" },
    envOf({ BBBLB_URL: "https://lb.example.org/" }),
  );
  assert.deepEqual(config.secrets, ["NEW-secret-1", "OLD-secret-2"]);
  assert.equal(config.url, "https://lb.example.org");
  assert.equal(config.adminToken, null);
});

Deno.test("keys that name no bbblb setting and lack the BBBLB_ prefix are left to other programs", () => {
  const file = parseConfigFile(
    "PORT=9000\nDENO_V8_FLAGS=--optimize-for-size\nexport LANG=C.UTF-8\n",
    "f.env",
  );
  assert.deepEqual(file.others, [{ key: "DENO_V8_FLAGS", line: 2 }, { key: "LANG", line: 3 }]);
  assert.equal(serveConfig({}, layeredEnv(noEnv, file)).port, 9000);
  // A BBBLB_ key is bbblb's: a typo there is still refused.
  assert.throws(() => parseConfigFile("BBBLB_DENO_V8_FLAGS=x\n", "f.env"), ConfigError);
});

Deno.test("--checksum-algorithms takes a comma-separated list of the four; anything else is named", () => {
  assert.deepEqual(serveConfig({}, noEnv).checksumAlgorithms, ["sha1", "sha256", "sha384", "sha512"]);
  assert.deepEqual(
    serveConfig({}, envOf({ BBBLB_CHECKSUM_ALGORITHMS: "SHA512, sha256" })).checksumAlgorithms,
    ["sha256", "sha512"],
  );
  assert.throws(
    () => serveConfig({ checksumAlgorithms: "sha256,md5" }, noEnv),
    (e: unknown) =>
      e instanceof ConfigError &&
      /^--checksum-algorithms \/ BBBLB_CHECKSUM_ALGORITHMS: "sha256,md5"/.test(e.message),
  );
});

Deno.test("the dial-in settings have defaults, are checked, and the fsapi password is masked", () => {
  const defaults = serveConfig({}, noEnv);
  assert.equal(defaults.voiceBridgeDigits, 5);
  assert.equal(defaults.dialNumber, null);
  assert.equal(defaults.fsapiPassword, "");
  assert.equal(defaults.fsapiPinTries, 3);
  assert.equal(defaults.fsapiPinTimeoutMs, 7000);
  assert.equal(defaults.fsapiMaxDurationMinutes, 0);
  const set = serveConfig(
    { voiceBridgeDigits: "9", fsapiPassword: "gateway-secret-password" },
    envOf({ BBBLB_DIAL_NUMBER: "+49 30 1234-5678", BBBLB_FSAPI_MAX_DURATION: "120" }),
  );
  assert.equal(set.voiceBridgeDigits, 9);
  assert.equal(set.dialNumber, "+49 30 1234-5678");
  assert.equal(set.fsapiMaxDurationMinutes, 120);
  const masked = SETTINGS.find((s) => s.key === "fsapiPassword")!;
  assert.equal(masked.secret, true);
  assert.equal(displayValue(masked, set), MASK);
  assert.throws(
    () =>
      serveConfig({
        voiceBridgeDigits: "4",
        dialNumber: "call <me>",
        fsapiPassword: "short",
        fsapiPinTries: "0",
        fsapiPinTimeout: "x",
      }, noEnv),
    (e: ConfigError) => {
      assert.equal(e.problems.length, 5);
      assert.match(
        e.message,
        /--voice-bridge-digits \/ BBBLB_VOICE_BRIDGE_DIGITS: "4" is not a number from 5 to 9/,
      );
      assert.match(e.message, /--dial-number/);
      assert.match(e.message, /--fsapi-password .*16 characters/);
      assert.ok(!e.message.includes("short"), "the password is never printed");
      return true;
    },
  );
});
