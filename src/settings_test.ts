/**
 * Tests of the settings table: README's table of `serve`'s settings lists every row with its variable and
 * default, and every row's default passes its own parser.
 *
 * @module
 */
import assert from "node:assert/strict";
import { serveConfig } from "./config.ts";
import { defaultText, SETTINGS } from "./settings.ts";

/** README's rows of the settings table: flag → [variable, default cell]. */
async function readmeRows(): Promise<Map<string, [string, string]>> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const rows = new Map<string, [string, string]>();
  for (const m of readme.matchAll(/^\| `(--[a-z-]+)` \| `(BBBLB_[A-Z_]+)` \| ([^|]*) \|/gm)) {
    rows.set(m[1], [m[2], m[3].trim()]);
  }
  return rows;
}

Deno.test("README's settings table lists every setting with its variable and its default", async () => {
  const rows = await readmeRows();
  for (const setting of SETTINGS) {
    const row = rows.get(setting.flag);
    assert.ok(row, `README's settings table has no row for ${setting.flag}`);
    assert.equal(row[0], setting.env, `${setting.flag}: README names another variable`);
    const text = defaultText(setting);
    assert.ok(
      row[1].startsWith(`\`${text}\``) || row[1].startsWith(text),
      `${setting.flag}: README's default "${row[1]}" is not "${text}"`,
    );
  }
  const known = new Set<string>([...SETTINGS.map((s) => s.flag), "--config"]);
  const extra = [...rows.keys()].filter((flag) => !known.has(flag));
  assert.deepEqual(extra, [], "README lists settings that serve does not have");
});

Deno.test("with nothing given, every setting takes its default, and the defaults show as written", () => {
  const config = serveConfig({}, () => undefined);
  assert.equal(config.port, 8090);
  assert.equal(config.url, "http://127.0.0.1:8090");
  assert.equal(config.backendTimeoutMs, 5000);
  assert.deepEqual(config.secrets, []);
  assert.equal(config.adminToken, null);
  assert.equal(config.trustProxy, false);
  for (const setting of SETTINGS) {
    if (typeof setting.default !== "string") continue;
    const show = setting.show as (value: unknown) => string;
    assert.equal(
      show(config[setting.key]),
      setting.default,
      `${setting.flag} does not show its default as given`,
    );
  }
});

Deno.test("a derived default follows the settings it is made of", () => {
  assert.equal(serveConfig({ host: "::1", port: "9000" }, () => undefined).url, "http://[::1]:9000");
});
