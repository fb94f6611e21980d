/**
 * The status page in a real headless browser: Debian's chromium at `/usr/bin/chromium`, driven by
 * `playwright-core` (which downloads no browser). The app runs in-process on a real socket in front of fake BBB
 * servers. The test opens `/status?token=…` once, as an operator's bookmark would, checks the redirect, the
 * HttpOnly cookie, the table and the load bars, takes a screenshot (its path is printed), and sees the page
 * reload itself after a server changes state. Without chromium the test is reported as ignored with the package
 * to install (`.ci/run` installs it, and fails on any ignored test).
 *
 * @module
 */
import assert from "node:assert/strict";
import { CHROMIUM, launchChromium } from "./chromium.ts";
import { setup } from "./harness.ts";
import { setServerState } from "../src/store/servers.ts";
import { needing } from "./requirements.ts";

const TOKEN = "browser-token-0123456789";

Deno.test(
  needing(
    { files: [{ path: CHROMIUM, pkg: "chromium" }] },
    "the status page in headless Chromium: token once, cookie, table, load bars, auto-refresh",
    async () => {
      await using h = await setup({ servers: 3, adminToken: TOKEN, statusRefreshSeconds: 1 });
      for (const [id, load] of [["lecture", "5"], ["seminar", "2"], ["office-hours", "1"]]) {
        assert.match(await h.text("create", { meetingID: id, name: id, load }), /SUCCESS/);
      }
      await setServerState(h.kv, 3, "cordoned");
      const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, h.app.fetch);
      const base = `http://127.0.0.1:${server.addr.port}`;
      const shots = await Deno.makeTempDir({ prefix: "bbblb-status-" });
      const { context, close } = await launchChromium({ viewport: { width: 1100, height: 420 } });
      try {
        const page = context.pages()[0] ?? await context.newPage();
        const first = await page.goto(`${base}/status?token=${TOKEN}`);
        assert.equal(first?.status(), 200);
        assert.equal(page.url(), `${base}/status`, "the token stayed in the address bar");
        const cookies = await context.cookies(`${base}/status`);
        assert.equal(cookies.length, 1);
        assert.equal(cookies[0].name, "bbblb_status");
        assert.equal(cookies[0].httpOnly, true);
        assert.notEqual(cookies[0].value, TOKEN);
        assert.equal(await page.evaluate("document.cookie"), "", "scripts can read the cookie");

        assert.equal(await page.title(), "bbblb status");
        assert.equal(await page.locator("tr.server").count(), 3);
        assert.equal(await page.locator('tr.server[data-server="3"] td.state').innerText(), "cordoned");
        assert.match(await page.locator("p.summary").innerText(), /3 server\(s\), 3 online · 3 meeting\(s\)/);
        // One bar is full (the busiest server); each bar's width follows its load.
        // Measured in one script turn: the page reloads itself every second, and a reload between two reads
        // would mix two documents.
        const [widths, full] = await page.evaluate(`(() => {
          const w = (sel) =>
            [...document.querySelectorAll(sel)].map((e) => Math.round(e.getBoundingClientRect().width));
          return [w("tr.server .fill"), w("tr.server .bar")[0]];
        })()`) as [number[], number];
        assert.ok(widths.includes(full), `no full bar: ${widths} of ${full}`);
        assert.ok(widths.some((w) => w > 0 && w < full), `no partial bar: ${widths} of ${full}`);

        const shot = `${shots}/status.png`;
        await page.screenshot({ path: shot, fullPage: true, timeout: 90_000 }); // slow on a loaded machine
        assert.ok((await Deno.stat(shot)).size > 1000);
        console.log(`status page screenshot: ${shot}`);

        // The page reloads itself: a state change shows up without any navigation by the test.
        await setServerState(h.kv, 1, "disabled");
        await page.locator('tr.server[data-server="1"] td.state', { hasText: "disabled" }).waitFor({
          timeout: 15_000,
        });
        assert.equal(page.url(), `${base}/status`);

        // Without the cookie, nothing.
        await context.clearCookies();
        const denied = await page.goto(`${base}/status`);
        assert.equal(denied?.status(), 401);
      } finally {
        await close();
        await server.shutdown();
      }
    },
  ),
);
