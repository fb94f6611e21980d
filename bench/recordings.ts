/**
 * Benchmark section (r) of `deno task bench`: central custody of recordings, with `./bbblb serve
 * --recordings-dir` as a process on a file store and one fake BBB server in this process.
 *
 * - **import**: tars of one format holding random (incompressible) data, generated under the given folder and
 *   deleted afterwards, are uploaded to `POST /bbblb/v1/recordings` over a plain socket, streamed from disk with
 *   their Content-Length as the shipped post_publish script sends them; measured: the time to the 202 (archive
 *   extracted and synced), the time to `imported`, and serve's peak RSS (`VmHWM`) of a fresh serve per archive,
 *   next to GNU tar extracting the same archive on the same disk. (A chunked body is refused with 411: see
 *   `src/recordings/upload.ts` for what it cost.)
 * - **getRecordings**: recordings written into the index, then getRecordings latency (sequential calls, median and
 *   p95) for one meetingID, pages of 100 from the middle (with and without a `meta_` filter), and the whole list,
 *   without the routed fallback and with it (one fake server's answer merged in).
 *
 * @module
 */
import { FakeBbb } from "../tests/fake_bbb.ts";
import { createStore, runBbblb, type ServeProcess, signedPath, startServe } from "../tests/bbblb_process.ts";
import { indexRecord, uploadToken } from "../tests/recording_fixtures.ts";
import { updateRecording } from "../src/store/recordings.ts";
import { memoryOf } from "./_lib.ts";

/** One figure of the section, as `run.ts` tabulates it. */
export interface RecordingFigure {
  what: string;
  measured: string;
  goal: string;
  met: boolean | null;
  note?: string;
}

/** What the section measured. */
export interface RecordingsReport {
  figures: RecordingFigure[];
  details: string[];
}

const SECRET = "bench-recordings-secret-0123456789";
const RECORD_ID = "0123456789abcdef0123456789abcdef01234567-1715262000456";
const mib = (b: number) => `${(b / 1024 ** 2).toFixed(0)} MiB`;
const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function sh(cmd: string): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command("sh", { args: ["-c", cmd], stderr: "piped", stdout: "null" }).output();
  if (out.code !== 0) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  return performance.now() - t;
}

/** A tar of `video/<RECORD_ID>/` holding `mibs` MiB of random data and a metadata.xml. */
async function makeArchive(dir: string, mibs: number): Promise<{ path: string; size: number }> {
  const tree = `${dir}/tree-${mibs}`;
  await Deno.mkdir(`${tree}/video/${RECORD_ID}`, { recursive: true });
  await Deno.writeTextFile(
    `${tree}/video/${RECORD_ID}/metadata.xml`,
    `<recording><id>${RECORD_ID}</id><state>published</state><published>true</published>` +
      `<start_time>1715262000456</start_time><end_time>1715265600456</end_time><participants>3</participants>` +
      `<meeting id="${RECORD_ID}" externalId="bench-big" name="Bench" breakout="false"/><meta>` +
      `<meetingId>bench-big</meetingId></meta><playback><format>video</format>` +
      `<link>https://bbb1.example.org/playback/video/${RECORD_ID}/</link><processing_time>1</processing_time>` +
      `<duration>3600000</duration></playback></recording>`,
  );
  await sh(`dd if=/dev/urandom of=${tree}/video/${RECORD_ID}/video-0.m4v bs=1M count=${mibs} status=none`);
  const path = `${dir}/archive-${mibs}.tar`;
  await sh(`tar -C ${tree} -cf ${path} . && rm -rf ${tree}`);
  return { path, size: (await Deno.stat(path)).size };
}

/**
 * POST a file over a plain socket with its Content-Length, streamed from disk in 1 MiB pieces.
 *
 * @returns the status and JSON body of the answer
 */
async function upload(
  port: number,
  token: string,
  file: string,
  size: number,
): Promise<{ status: number; body: { state: string; status: string } }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  const writeAll = async (b: Uint8Array) => {
    for (let at = 0; at < b.length;) at += await conn.write(b.subarray(at));
  };
  try {
    await writeAll(enc.encode(
      `POST /bbblb/v1/recordings HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/x-tar\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`,
    ));
    using f = await Deno.open(file);
    const buf = new Uint8Array(1024 * 1024);
    for (;;) {
      const n = await f.read(buf);
      if (n === null) break;
      await writeAll(buf.subarray(0, n));
    }
    const answer = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0);
    return { status, body: JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) };
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the reader
    }
  }
}

/** One upload to a fresh serve: time to 202, to imported, and serve's peak RSS before and after. */
async function importOnce(
  dir: string,
  fake: FakeBbb,
  archive: { path: string; size: number },
): Promise<{ acceptedMs: number; importedMs: number; state: string; before: number; after: number }> {
  const serve = await startServe({
    kv: `${dir}/bbblb.kv`,
    secret: SECRET,
    args: ["--recordings-dir", `${dir}/recordings`, "--poll-interval", "3600", "--log-level", "warn"],
  });
  try {
    const before = (await memoryOf(serve.child.pid)).peakMiB;
    const base = `http://127.0.0.1:${serve.port}`;
    const token = await uploadToken(fake.secret, { iss: `127.0.0.1:${fake.port}`, aud: base });
    const t0 = performance.now();
    const res = await upload(serve.port, token, archive.path, archive.size);
    const acceptedMs = performance.now() - t0;
    if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(res.body)}`);
    let state = res.body.state;
    while (state !== "imported" && state !== "failed") {
      await new Promise((r) => setTimeout(r, 50));
      const s = await fetch(`${base}${res.body.status}`, { headers: { authorization: `Bearer ${token}` } });
      state = (await s.json()).state;
    }
    const importedMs = performance.now() - t0;
    const after = (await memoryOf(serve.child.pid)).peakMiB;
    await Deno.remove(`${dir}/recordings/video/${RECORD_ID}`, { recursive: true });
    return { acceptedMs, importedMs, state, before, after };
  } finally {
    await serve.terminate();
  }
}

/**
 * Import figures: a small archive and one of `gib` GiB (memory must not grow with the size).
 */
export async function importBench(dir: string, gib: number): Promise<RecordingsReport> {
  const figures: RecordingFigure[] = [];
  const details: string[] = [];
  const fake = await FakeBbb.start({ secret: `bench-node-${crypto.randomUUID()}` });
  try {
    await createStore(`${dir}/bbblb.kv`);
    const added = await runBbblb(["add-server", "1", fake.url, fake.secret, "--no-check"], {
      env: { BBBLB_KV: `${dir}/bbblb.kv` },
    });
    if (added.code !== 0) throw new Error(added.stderr);
    const sizes = [256, Math.round(gib * 1024)];
    const peaks: number[] = [];
    for (const mibs of sizes) {
      const archive = await makeArchive(dir, mibs);
      try {
        await Deno.mkdir(`${dir}/ref`);
        const refMs = await sh(
          `tar -C ${dir}/ref -xf ${archive.path} && sync -f ${dir}/ref && rm -rf ${dir}/ref`,
        );
        const r = await importOnce(dir, fake, archive);
        peaks.push(r.after - r.before);
        figures.push({
          what:
            `upload of a ${mib(archive.size)} tar with its Content-Length: to 202 (extracted, synced) / to ` +
            "imported (GNU tar -xf + sync of the same archive)",
          measured: `${s1(r.acceptedMs)} / ${s1(r.importedMs)} (${s1(refMs)})`,
          goal: "—",
          met: null,
        });
        figures.push({
          what: `serve's peak RSS (VmHWM) before / after the upload of ${mib(archive.size)} (a fresh serve)`,
          measured: `${r.before.toFixed(0)} MiB / ${r.after.toFixed(0)} MiB (+${
            (r.after - r.before).toFixed(0)
          } MiB; import ${r.state})`,
          goal: "—",
          met: null,
        });
        details.push(
          `import of ${mib(archive.size)}: ${
            (archive.size / 1024 ** 2 / (r.acceptedMs / 1000)).toFixed(0)
          } MiB/s ` +
            `through bbblb, ${(archive.size / 1024 ** 2 / (refMs / 1000)).toFixed(0)} MiB/s for GNU tar; ` +
            "random data (incompressible), one file, the archive read from the same disk",
        );
      } finally {
        await Deno.remove(archive.path);
      }
    }
    const extra = peaks[1] - peaks[0];
    figures.push({
      what: `memory of an import: peak RSS growth for ${sizes[1]} MiB minus that for ${sizes[0]} MiB`,
      measured: `${extra >= 0 ? "+" : ""}${extra.toFixed(0)} MiB (+${peaks[1].toFixed(0)} / +${
        peaks[0].toFixed(0)
      } MiB)`,
      goal: "streamed, never held in memory: < 32 MiB",
      met: extra < 32,
      note: "the upload is held in memory in part",
    });
  } finally {
    await fake.close();
  }
  return { figures, details };
}

function stats(ms: number[]): { p50: number; p95: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] };
}

/** getRecordings latency over `n` recordings in the index. */
export async function listingBench(dir: string, n: number): Promise<RecordingsReport> {
  const figures: RecordingFigure[] = [];
  const details: string[] = [];
  const kv = `${dir}/listing.kv`;
  await createStore(kv);
  const fake = await FakeBbb.start({ secret: `bench-node-${crypto.randomUUID()}` });
  let serve: ServeProcess | undefined;
  try {
    const added = await runBbblb(["add-server", "1", fake.url, fake.secret, "--no-check"], {
      env: { BBBLB_KV: kv },
    });
    if (added.code !== 0) throw new Error(added.stderr);
    const store = await Deno.openKv(kv);
    const writeStart = performance.now();
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const meetingID = `room-${i % (n / 2)}`;
      const r = indexRecord({
        meetingID,
        startTime: 1_700_000_000_000 + i * 60_000,
        meta: {
          meetingId: meetingID,
          meetingName: `Room ${i}`,
          isBreakout: "false",
          "gl-listed": String(i % 2 === 0),
        },
      });
      batch.push(updateRecording(store, r.recordID, () => r));
      if (batch.length >= 50) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
    store.close();
    details.push(`index: ${n} recordings written in ${s1(performance.now() - writeStart)}`);
    for (const fallback of ["off", "on"]) {
      serve = await startServe({
        kv,
        secret: SECRET,
        args: [
          "--recordings-dir",
          `${dir}/recordings`,
          "--poll-interval",
          "3600",
          "--log-level",
          "warn",
          "--recordings-routed-fallback",
          fallback,
        ],
      });
      const cases: [string, string, number][] = [
        ["one meetingID", `meetingID=room-${Math.floor(n / 4)}`, 200],
        ["a page of 100 from the middle", `offset=${Math.floor(n / 2)}&limit=100`, 50],
        [
          "a page of 100 from the middle, meta_gl-listed=true",
          `meta_gl-listed=true&offset=${Math.floor(n / 4)}&limit=100`,
          50,
        ],
        [`all ${n}`, "", 10],
      ];
      for (const [what, query, times] of cases) {
        const ms: number[] = [];
        let count = 0;
        for (let i = 0; i < times + 2; i++) {
          const t = performance.now();
          const r = await fetch(`${serve.url}api/${signedPath("getRecordings", query, SECRET)}`);
          const text = await r.text();
          if (i >= 2) ms.push(performance.now() - t);
          count = (text.match(/<recordID>/g) ?? []).length;
        }
        const s = stats(ms);
        figures.push({
          what:
            `getRecordings, ${what}, ${n} in the index, routed fallback ${fallback}: p50 / p95 (${count} listed)`,
          measured: `${s.p50.toFixed(1)} ms / ${s.p95.toFixed(1)} ms`,
          goal: "—",
          met: null,
        });
      }
      await serve.terminate();
      serve = undefined;
    }
  } finally {
    await serve?.kill();
    await fake.close();
  }
  return { figures, details };
}
