/**
 * What `bbblb install` writes, without writing it: the unit it carries is `deploy/bbblb.service`, its
 * `ExecStart` names the running bbblb, and the env file names every setting.
 *
 * @module
 */
import assert from "node:assert/strict";
import { envFileFor, unitFor } from "./install.ts";
import { SERVICE_UNIT } from "./service_unit.ts";
import { parseConfigFile } from "../config.ts";
import { SETTINGS } from "../settings.ts";

Deno.test("the unit bbblb install carries is deploy/bbblb.service, byte for byte", async () => {
  const shipped = await Deno.readTextFile(new URL("../../deploy/bbblb.service", import.meta.url));
  assert.equal(SERVICE_UNIT, shipped);
  // Installed at the usual place, the unit is exactly the shipped file.
  assert.equal(unitFor("/usr/local/bin/bbblb"), shipped);
});

Deno.test("the installed unit runs the bbblb that ran install, quoted when its path needs it", () => {
  assert.match(unitFor("/opt/bbblb/bin/bbblb"), /^ExecStart=\/opt\/bbblb\/bin\/bbblb serve$/m);
  assert.match(unitFor("/opt/my tools/bbblb"), /^ExecStart="\/opt\/my tools\/bbblb" serve$/m);
});

Deno.test("the env file sets URL, store and secret and lists every other setting commented out", () => {
  const text = envFileFor("https://lb.example.org", "s".repeat(48));
  const file = parseConfigFile(text, "bbblb.env");
  assert.equal(file.values.get("BBBLB_URL")?.value, "https://lb.example.org");
  assert.equal(file.values.get("BBBLB_KV")?.value, "/var/lib/bbblb/bbblb.kv");
  assert.equal(file.values.get("BBBLB_SECRET")?.value, "s".repeat(48));
  assert.equal(file.values.size, 3);
  for (const setting of SETTINGS) {
    assert.match(text, new RegExp(`^#? ?${setting.env}=`, "m"), `${setting.env} is not in the file`);
  }
  assert.match(text, /^# BBBLB_PORT=8090$/m);
});
