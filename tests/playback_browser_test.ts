/**
 * Playback in a real headless browser: Debian's chromium driven by `playwright-core`, a real short video made
 * with Debian's ffmpeg (VP8 WebM as BBB's presentation format keeps webcams, H.264 MP4 as its video format
 * keeps the meeting), and the app on a real socket. The browser reaches bbblb by its public host name
 * (`bbblb.test`, mapped to the socket with `--host-resolver-rules`), so the tenant-host check is the real one.
 * The recording is protected: the test opens the grant link getRecordings lists, lands on the stand-in player
 * without the grant in the address bar, sees the player fetch the recording's files with its cookie, plays and
 * seeks both videos (the browser's range requests are answered 206), and is refused without the cookie.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CHROMIUM, launchChromium } from "./chromium.ts";
import { PUBLIC_URL } from "./harness.ts";
import { needing } from "./requirements.ts";
import { recordThroughBbblb, uploadPublished, withPlayback } from "./recording_fixtures.ts";

const FFMPEG = { command: "ffmpeg", pkg: "ffmpeg" };

/** Make a 6 s test-pattern video with ffmpeg (`codec` libvpx for WebM, libx264 for MP4). */
async function makeVideo(path: string, codec: "libvpx" | "libx264"): Promise<void> {
  const args = [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    "testsrc=duration=6:size=320x240:rate=25",
    "-c:v",
    codec,
    "-g",
    "25",
    ...(codec === "libx264" ? ["-pix_fmt", "yuv420p", "-f", "mp4"] : ["-b:v", "300k", "-f", "webm"]),
    path,
  ];
  const out = await new Deno.Command("ffmpeg", { args, stderr: "piped" }).output();
  if (out.code !== 0) throw new Error(`ffmpeg failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** In the page: play the `<video>` for a moment, then seek to 4 s; what the element says afterwards. */
const PLAY_AND_SEEK = `(async () => {
  const v = document.querySelector("video");
  if (v.readyState < 1) await new Promise((r, j) => { v.onloadedmetadata = r; v.onerror = () => j(new Error("video error " + (v.error && v.error.code))); });
  v.muted = true;
  await v.play();
  const t0 = v.currentTime;
  await new Promise((r) => setTimeout(r, 700));
  const played = v.currentTime - t0;
  v.pause();
  await new Promise((r) => { v.onseeked = r; v.currentTime = 4; });
  return { duration: v.duration, played, at: v.currentTime, readyState: v.readyState, error: v.error };
})()`;

Deno.test(
  needing(
    { files: [{ path: CHROMIUM, pkg: "chromium" }], tools: [FFMPEG] },
    "a protected recording plays and seeks in headless Chromium through bbblb: presentation player and video format",
    async () => {
      await withPlayback({ protectedByDefault: true }, async (h) => {
        const made = await recordThroughBbblb(h, "lecture-video");
        const id = made.recording.recordID;
        await uploadPublished(h, made, {
          formats: ["presentation", "video"],
          edit: async (tree) => {
            await makeVideo(`${tree}/presentation/${id}/video/webcams.webm`, "libvpx");
            await makeVideo(`${tree}/video/${id}/video-0.m4v`, "libx264");
            await Deno.writeTextFile(
              `${tree}/video/${id}/index.html`,
              `<!doctype html><title>video</title><video src="video-0.m4v" muted preload="auto"></video>`,
            );
          },
        });
        const list = await h.text("getRecordings", { meetingID: "lecture-video" });
        const [presentationLink, videoLink] = [...list.matchAll(/<url>([^<]*)<\/url>/g)].map((m) => m[1]);
        assert.match(presentationLink, /bbblb_grant=/);

        const seen: { path: string; status: number; range: string | null }[] = [];
        const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
          const res = await h.app.fetch(req);
          seen.push({
            path: new URL(req.url).pathname,
            status: res.status,
            range: req.headers.get("range"),
          });
          return res;
        });
        const { context, close } = await launchChromium({
          args: [
            "--autoplay-policy=no-user-gesture-required",
            `--host-resolver-rules=MAP bbblb.test 127.0.0.1:${server.addr.port}`,
          ],
        });
        try {
          const page = context.pages()[0] ?? await context.newPage();
          const opened = await page.goto(presentationLink);
          assert.equal(opened?.status(), 200);
          assert.equal(page.url(), `${PUBLIC_URL}/playback/presentation/2.3/${id}`, "the grant stayed");
          assert.equal(await page.title(), "stand-in player");
          await page.locator("#status", { hasText: "ready" }).waitFor({ timeout: 15_000 });
          assert.deepEqual(await page.evaluate("window.loaded"), { id, metadata: 200, shapes: 200 });
          const cookies = await context.cookies(`${PUBLIC_URL}/presentation/${id}/shapes.svg`);
          assert.equal(cookies.length, 1);
          assert.equal(cookies[0].httpOnly, true);
          assert.equal(await page.evaluate("document.cookie"), "", "scripts can read the cookie");

          const webcams = await page.evaluate(PLAY_AND_SEEK) as Record<string, number>;
          assert.ok(Math.abs(webcams.duration - 6) < 0.2, `duration ${webcams.duration}`);
          assert.ok(webcams.played > 0.1, `did not play: ${webcams.played}`);
          assert.ok(Math.abs(webcams.at - 4) < 0.1, `seeked to ${webcams.at}`);
          assert.ok(webcams.readyState >= 2, `readyState ${webcams.readyState}`);

          await page.goto(videoLink);
          assert.equal(page.url(), `${PUBLIC_URL}/playback/video/${id}/`);
          const video = await page.evaluate(PLAY_AND_SEEK) as Record<string, number>;
          assert.ok(Math.abs(video.duration - 6) < 0.2, `duration ${video.duration}`);
          assert.ok(video.played > 0.1, `did not play: ${video.played}`);
          assert.ok(Math.abs(video.at - 4) < 0.1, `seeked to ${video.at}`);

          const ranged = seen.filter((s) => s.path.endsWith(".webm") || s.path.endsWith(".m4v"));
          assert.ok(
            ranged.length > 0 && ranged.every((s) => s.range !== null && s.status === 206),
            JSON.stringify(ranged),
          );
          assert.ok(seen.every((s) => s.status < 400 || s.path === "/favicon.ico"), JSON.stringify(seen));

          // without the cookie: refused, in the browser too
          await context.clearCookies();
          assert.equal((await page.goto(`${PUBLIC_URL}/playback/presentation/2.3/${id}`))?.status(), 403);
          assert.equal(
            (await page.goto(`${PUBLIC_URL}/presentation/${id}/video/webcams.webm`))?.status(),
            403,
          );
        } finally {
          await close();
          await server.shutdown();
        }
      });
    },
  ),
);
