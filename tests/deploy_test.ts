/**
 * The files in `deploy/` as an operator installs them: the systemd unit passes `systemd-analyze verify` and is
 * rated well by `systemd-analyze security`, and the nginx example passes `nginx -t`. The tools come from
 * Debian's packages (`.ci/run` installs them); where one is missing the test is reported as ignored with the
 * package to install (and `.ci/run` fails on any ignored test).
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort, ROOT } from "./bbblb_process.ts";
import { needing, SYSTEMD_ANALYZE, type Tool, which } from "./requirements.ts";

const UNIT = new URL("deploy/bbblb.service", ROOT);
const NGINX = new URL("deploy/nginx-bbblb.conf", ROOT);
const INSTALLED_BINARY = "/usr/local/bin/bbblb";
const NGINX_TOOL: Tool = { command: "nginx", pkg: "nginx-light" };
const OPENSSL: Tool = { command: "openssl", pkg: "openssl" };

/** Run a tool (found on PATH, or in /usr/sbin where nginx lives). */
async function tool(cmd: string, args: string[]) {
  const path = which(cmd) ?? cmd;
  const out = await new Deno.Command(path, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/**
 * A copy of the shipped unit in a temp dir. systemd-analyze checks that ExecStart names an executable; where
 * the binary is not installed, the copy runs the repository's `./bbblb` launcher (same CLI) instead.
 */
async function unitCopy(dir: string): Promise<string> {
  let text = await Deno.readTextFile(UNIT);
  const installed = await Deno.stat(INSTALLED_BINARY).then(() => true, () => false);
  if (!installed) text = text.replace(`ExecStart=${INSTALLED_BINARY} `, `ExecStart=${ROOT.pathname}bbblb `);
  const path = `${dir}/bbblb.service`;
  await Deno.writeTextFile(path, text);
  return path;
}

/** The unit's directives as `Key=value` strings (comments and blank lines dropped). */
async function directives(): Promise<string[]> {
  return (await Deno.readTextFile(UNIT)).split("\n").map((l) => l.trim()).filter((l) =>
    l !== "" && !l.startsWith("#") && !l.startsWith("[")
  );
}

Deno.test(
  needing(
    { tools: [SYSTEMD_ANALYZE] },
    "the shipped systemd unit passes systemd-analyze verify without a warning",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "bbblb-unit-" });
      try {
        const res = await tool("systemd-analyze", ["verify", await unitCopy(dir)]);
        assert.equal(res.code, 0, res.stderr);
        assert.equal(res.stderr.trim(), "", `systemd-analyze verify warned:\n${res.stderr}`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  ),
);

Deno.test("the shipped unit runs bbblb serve as its own user with the store in /var/lib/bbblb", async () => {
  const d = await directives();
  for (
    const expected of [
      "ExecStart=/usr/local/bin/bbblb serve",
      "Environment=BBBLB_KV=/var/lib/bbblb/bbblb.kv",
      "Environment=BBBLB_CONFIG=",
      "EnvironmentFile=-/etc/bbblb/bbblb.env",
      "DynamicUser=yes",
      "StateDirectory=bbblb",
      "ProtectSystem=strict",
      "NoNewPrivileges=yes",
      "UMask=0077",
    ]
  ) {
    assert.ok(d.includes(expected), `the unit lacks ${expected}`);
  }
});

Deno.test(
  needing(
    { tools: [SYSTEMD_ANALYZE] },
    "systemd-analyze security rates the shipped unit's exposure OK (below 2 of 10)",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "bbblb-unit-" });
      try {
        const res = await tool("systemd-analyze", [
          "security",
          "--offline=yes",
          "--no-pager",
          await unitCopy(dir),
        ]);
        const m = res.stdout.match(/Overall exposure level for bbblb\.service: ([\d.]+) (\w+)/);
        assert.ok(m, `no exposure level in:\n${res.stdout}\n${res.stderr}`);
        assert.ok(Number(m[1]) < 2, `exposure ${m[1]} ${m[2]}`);
        assert.equal(m[2], "OK");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  ),
);

Deno.test(
  needing(
    { tools: [NGINX_TOOL, OPENSSL] },
    "the shipped nginx example passes nginx -t and proxies the request target unchanged",
    async () => {
      const text = await Deno.readTextFile(NGINX);
      // No URI part after the address: nginx passes the request target as sent, so checksums still verify.
      assert.match(text, /proxy_pass http:\/\/127\.0\.0\.1:8090;/);
      const dir = await Deno.makeTempDir({ prefix: "bbblb-nginx-" });
      try {
        const cert = await tool(
          "openssl",
          [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=lb.example.org",
            "-keyout",
            `${dir}/key.pem`,
            "-out",
            `${dir}/cert.pem`,
          ],
        );
        assert.equal(cert.code, 0, cert.stderr);
        const [http, https] = [freePort(), freePort()];
        const site = text
          .replace("/etc/letsencrypt/live/lb.example.org/fullchain.pem", `${dir}/cert.pem`)
          .replace("/etc/letsencrypt/live/lb.example.org/privkey.pem", `${dir}/key.pem`)
          .replace("/var/log/nginx/bbblb.access.log", `${dir}/access.log`)
          // nginx -t binds the ports: free high ones, so the check needs no root and no idle port 80.
          .replace(/listen (\[::\]:)?80;/g, `listen $1${http};`)
          .replace(/listen (\[::\]:)?443 /g, `listen $1${https} `);
        await Deno.writeTextFile(`${dir}/site.conf`, site);
        // As Debian's nginx.conf includes sites-enabled: inside the http block.
        await Deno.writeTextFile(
          `${dir}/nginx.conf`,
          // The http-level log too, so nginx -t passes without root (it opens /var/log/nginx/access.log otherwise).
          `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\n` +
            `http {\n  access_log ${dir}/http-access.log;\n  include ${dir}/site.conf;\n}\n`,
        );
        const res = await tool("nginx", ["-t", "-q", "-p", dir, "-c", `${dir}/nginx.conf`]);
        assert.equal(res.code, 0, res.stderr);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  ),
);
