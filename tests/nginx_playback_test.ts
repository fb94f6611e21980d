/**
 * The nginx example for heavy playback (`deploy/nginx-bbblb-playback.conf`) with a real nginx: the snippet is
 * included in a server block as README says, checked with `nginx -t`, and nginx is started in front of bbblb
 * (in-process, on a real socket) on a recordings directory. nginx must serve an allowed file itself (bbblb sees
 * only the `auth_request` subrequest), with ranges, and hand everything bbblb refuses or must answer itself
 * (no cookie, a grant, unpublished, another tenant's host, the player) to bbblb, so the answers are bbblb's.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort, ROOT } from "./bbblb_process.ts";
import { rawExchange, type RawResponse } from "./raw_http.ts";
import { recordThroughBbblb, uploadPublished, withPlayback } from "./recording_fixtures.ts";
import { needing, which } from "./requirements.ts";

const SNIPPET = new URL("deploy/nginx-bbblb-playback.conf", ROOT);

Deno.test(
  needing(
    { tools: [{ command: "nginx", pkg: "nginx-light" }] },
    "nginx serves allowed playback files itself and hands everything else to bbblb, with the same answers",
    async () => {
      await withPlayback({ protectedByDefault: true }, async (h, dir) => {
        const made = await recordThroughBbblb(h, "nginx-room");
        const id = made.recording.recordID;
        await uploadPublished(h, made, { formats: ["presentation", "video"] });
        // nginx's workers read the directory as another user when nginx runs as root
        await Deno.chmod(dir, 0o755);

        const seen: string[] = [];
        const bbblb = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
          seen.push(new URL(req.url).pathname);
          return h.app.fetch(req);
        });
        const conf = await Deno.makeTempDir({ prefix: "bbblb-nginx-" });
        const port = freePort();
        const nginx = which("nginx")!;
        let proc: Deno.ChildProcess | null = null;
        try {
          const snippet = (await Deno.readTextFile(SNIPPET))
            .replaceAll("/var/lib/bbblb-recordings", dir)
            .replaceAll("127.0.0.1:8090", `127.0.0.1:${bbblb.addr.port}`);
          await Deno.writeTextFile(`${conf}/bbblb-playback.conf`, snippet);
          const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .map((t) => `  ${t}_temp_path ${conf}/${t};\n`).join("");
          await Deno.writeTextFile(
            `${conf}/nginx.conf`,
            (Deno.uid() === 0 ? "user root root;\n" : "") +
              `pid ${conf}/nginx.pid;\nerror_log ${conf}/error.log;\nevents {}\nhttp {\n` +
              `  include /etc/nginx/mime.types;\n  access_log ${conf}/access.log;\n${temp}` +
              `  server {\n    listen 127.0.0.1:${port};\n    server_name bbblb.test;\n` +
              `    include ${conf}/bbblb-playback.conf;\n` +
              `    location / { proxy_pass http://127.0.0.1:${bbblb.addr.port}; proxy_set_header Host $host; }\n` +
              `  }\n}\n`,
          );
          const check = await new Deno.Command(nginx, {
            args: ["-t", "-q", "-p", conf, "-c", `${conf}/nginx.conf`],
            stderr: "piped",
          }).output();
          assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
          proc = new Deno.Command(nginx, {
            args: ["-p", conf, "-c", `${conf}/nginx.conf`, "-g", "daemon off;"],
            stderr: "piped",
          }).spawn();
          const get = async (
            path: string,
            headers: Record<string, string> = {},
            host = "bbblb.test",
          ): Promise<RawResponse> => {
            const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
            const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${lines}Connection: close\r\n\r\n`;
            for (let i = 0;; i++) {
              try {
                return await rawExchange("127.0.0.1", port, new TextEncoder().encode(request));
              } catch (e) {
                if (i > 50) throw e;
                await new Promise((r) => setTimeout(r, 100)); // nginx is starting
              }
            }
          };

          const svg = `/presentation/${id}/shapes.svg`;
          const denied = await get(svg);
          assert.equal(denied.status, 403, "protected, no cookie: bbblb's 403");
          assert.match(denied.body, /protected/);
          // the grant goes to bbblb, which trades it for the cookie
          const list = await h.text("getRecordings", { meetingID: "nginx-room" });
          const link = new URL(/<url>([^<]*)<\/url>/.exec(list)![1]);
          const traded = await get(`${link.pathname}${link.search}`);
          assert.equal(traded.status, 303);
          assert.equal(traded.headers.get("location"), `/playback/presentation/2.3/${id}`);
          const cookie = traded.headers.get("set-cookie")!.split(";")[0];
          assert.match(cookie, /^bbblb_playback=/);

          seen.length = 0;
          const served = await get(svg, { cookie });
          assert.equal(served.status, 200);
          assert.match(served.body, /<svg/);
          assert.equal(served.headers.get("cache-control"), "private, no-cache");
          assert.ok(served.headers.get("etag"));
          assert.deepEqual(seen, ["/bbblb/v1/playback/auth"], "bbblb served the file instead of nginx");
          const part = await get(`/presentation/${id}/video/webcams.webm`, { cookie, range: "bytes=0-99" });
          assert.equal(part.status, 206);
          assert.equal(part.headers.get("content-range"), "bytes 0-99/1000");
          assert.equal((await get(`/playback/video/${id}/video-0.m4v`, { cookie })).status, 200);

          // what bbblb answers itself, through nginx
          assert.equal((await get(`/playback/presentation/2.3/${id}`, { cookie })).status, 200);
          assert.equal((await get(`/presentation/${id}/.hidden`, { cookie })).status, 404);
          assert.equal((await get(`/presentation/${id}/video%2fwebcams.webm`, { cookie })).status, 404);
          assert.equal((await get(svg, { cookie }, "other.example.org")).status, 404, "another host");
          assert.match(await h.text("publishRecordings", { recordID: id, publish: "false" }), /SUCCESS/);
          assert.equal((await get(svg, { cookie })).status, 404, "unpublished");
          assert.equal((await get(`/playback/video/${id}/video-0.m4v`, { cookie })).status, 404);
        } finally {
          if (proc) {
            proc.kill("SIGQUIT");
            await proc.status;
            await proc.stderr.cancel();
          }
          await bbblb.shutdown();
          await Deno.remove(conf, { recursive: true });
        }
      });
    },
  ),
);
