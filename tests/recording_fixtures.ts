/**
 * Helpers for the recordings tests: tar archives built entry by entry (so tests can put in what GNU tar would
 * refuse to write: `..`, absolute paths, links, devices), archives of a folder made with GNU tar as the
 * post_publish script makes them, and upload tokens signed as a BBB server signs them.
 *
 * @module
 */
// @ts-types="@types/tar-stream"
import tar from "tar-stream";
import { SignJWT } from "jose";
import { gzipSync } from "node:zlib";
import { Buffer } from "node:buffer";
import type { FakeRecording } from "./fake_bbb.ts";
import { type Harness, PUBLIC_URL, setup } from "./harness.ts";
import type { PlaybackSettings } from "../src/recordings/access.ts";

/** One entry of {@linkcode tarOf}. */
export interface TarEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device" | "fifo";
  content?: string | Uint8Array;
  linkname?: string;
}

/** A tar archive of these entries (gzip-compressed with `gzip: true`). */
export async function tarOf(
  entries: TarEntry[],
  opts: { gzip?: boolean } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const pack = tar.pack();
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Uint8Array);
  })();
  for (const e of entries) {
    const type = e.type ?? "file";
    const content = typeof e.content === "string" ? new TextEncoder().encode(e.content) : e.content;
    const header = { name: e.name, type, linkname: e.linkname, mode: type === "directory" ? 0o755 : 0o644 };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === "file") pack.entry(header, Buffer.from(content ?? new Uint8Array()), cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return opts.gzip ? new Uint8Array(gzipSync(out)) : out;
}

/** A tar of `dir`'s content (`<format>/<recordID>/…`) made with GNU tar, written to `file`. */
export async function tarFolder(dir: string, file: string, opts: { gzip?: boolean } = {}): Promise<void> {
  const out = await new Deno.Command("tar", {
    args: [opts.gzip ? "-czf" : "-cf", file, "-C", dir, "."],
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`tar failed: ${new TextDecoder().decode(out.stderr)}`);
}

/**
 * An upload token as a BBB server signs it: HS256 with its secret, `iss` its host[:port], `aud` bbblb's URL.
 */
export async function uploadToken(
  secret: string,
  claims: { iss: string; aud: string; expiresIn?: number; alg?: string },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({})
    .setProtectedHeader({ alg: claims.alg ?? "HS256" })
    .setIssuer(claims.iss)
    .setAudience(claims.aud)
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.expiresIn ?? 300))
    .sign(new TextEncoder().encode(secret));
}

/** A recording made through bbblb on a fake server. */
export interface MadeRecording {
  /** The fake that recorded it (index into `h.fakes`) and its server id in bbblb. */
  fakeIndex: number;
  serverId: number;
  recording: FakeRecording;
}

/**
 * Create a meeting through bbblb (with `params`, e.g. `meta_bbb-recording-ready-url`), then let the fake server
 * that got it record it as BBB would: recordID = the instance's internalMeetingID, started at its createTime, the
 * create's metadata.
 */
export async function recordThroughBbblb(
  h: Harness,
  meetingID: string,
  params: Record<string, string> = {},
  call: (name: string, params: Record<string, string>) => Promise<Response> = h.call,
): Promise<MadeRecording> {
  const res = await call("create", { meetingID, name: `Room ${meetingID}`, record: "true", ...params });
  const body = await res.text();
  const internal = /<internalMeetingID>([^<]+)</.exec(body)?.[1];
  if (!internal) throw new Error(`create failed: ${body}`);
  const fakeIndex = h.fakes.findIndex((f) =>
    [...f.meetings.values()].some((m) => m.internalMeetingID === internal)
  );
  const fake = h.fakes[fakeIndex];
  const meeting = [...fake.meetings.values()].find((m) => m.internalMeetingID === internal)!;
  const recording = fake.addRecording(meeting.meetingID, {
    internalMeetingID: internal,
    startTime: meeting.createTime,
    endTime: meeting.createTime + 5 * 60_000,
    name: meeting.meetingName,
    metadata: { ...meeting.metadata },
  });
  return { fakeIndex, serverId: fakeIndex + 1, recording };
}

/** POST an archive to a harness app's upload endpoint, signed as fake `fakeIndex` signs it. */
export async function postUpload(
  h: Harness,
  fakeIndex: number,
  body: BodyInit | null,
  opts: { token?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const fake = h.fakes[fakeIndex];
  const token = opts.token ??
    await uploadToken(fake.secret, { iss: `127.0.0.1:${fake.port}`, aud: PUBLIC_URL });
  return await h.app.request("/bbblb/v1/recordings", {
    method: "POST",
    body,
    headers: { authorization: `Bearer ${token}`, ...opts.headers },
  });
}

/**
 * Write a recording's published tree (see `FakeBbb.writePublished`) into a temp folder, tar it as the
 * post_publish script does, upload it, and wait for the import.
 *
 * @returns the upload's answer (status and JSON)
 */
export async function uploadPublished(
  h: Harness,
  made: MadeRecording,
  opts: { formats?: string[]; fakeIndex?: number; edit?: (tree: string) => Promise<void> } = {},
): Promise<
  { status: number; json: { id: string; state: string; items: { state: string; error: string | null }[] } }
> {
  const tree = await Deno.makeTempDir({ prefix: "bbblb-published-" });
  try {
    await h.fakes[made.fakeIndex].writePublished(made.recording.recordID, tree, { formats: opts.formats });
    await opts.edit?.(tree);
    const file = `${tree}.tar`;
    await tarFolder(tree, file);
    const res = await postUpload(h, opts.fakeIndex ?? made.fakeIndex, await Deno.readFile(file));
    await Deno.remove(file);
    const json = await res.json();
    await h.custody!.idle();
    return { status: res.status, json };
  } finally {
    await Deno.remove(tree, { recursive: true });
  }
}

/** Run `f` with a fresh temporary directory (a recordings directory), removed afterwards. */
export async function withTempDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-recdir-" });
  try {
    return await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A small stand-in for the presentation player (bbb-playback is neither on npm nor in Debian) in `dir`:
 * `index.html`, which loads `static/js/player.js`; the script reads the recordID from the address
 * (`/playback/presentation/2.3/<recordID>`) and fetches the recording's `metadata.xml` and `shapes.svg` from
 * `/presentation/<recordID>/` as bbb-playback does, and plays `video/webcams.webm` in a `<video>`.
 */
export async function writeStandInPlayer(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/static/js`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/index.html`,
    `<!doctype html><html><head><meta charset="utf-8"><title>stand-in player</title>` +
      `<script defer src="/playback/presentation/2.3/static/js/player.js"></script></head>` +
      `<body><p id="status">loading</p><video id="webcams" muted preload="auto"></video></body></html>\n`,
  );
  await Deno.writeTextFile(
    `${dir}/static/js/player.js`,
    `(async () => {
  const id = location.pathname.split("/").filter(Boolean).pop();
  const base = "/presentation/" + id + "/";
  const status = document.getElementById("status");
  const meta = await fetch(base + "metadata.xml");
  const shapes = await fetch(base + "shapes.svg");
  window.loaded = { id, metadata: meta.status, shapes: shapes.status };
  const video = document.getElementById("webcams");
  video.src = base + "video/webcams.webm";
  status.textContent = "ready " + meta.status + " " + shapes.status;
})();
`,
  );
}

/**
 * Run `f` with a harness in central mode that serves playback (`playback` settings, the stand-in player of
 * {@linkcode writeStandInPlayer}) on a fresh recordings directory, one server, no routed fallback; the folders
 * are removed afterwards.
 */
export async function withPlayback(
  playback: Partial<PlaybackSettings>,
  f: (h: Harness, dir: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    await withTempDir(async (player) => {
      await writeStandInPlayer(player);
      await using h = await setup({
        servers: 1,
        recordingsDir: dir,
        routedFallback: false,
        playback: { playerDir: player, ...playback },
      });
      await f(h, dir);
    });
  });
}
