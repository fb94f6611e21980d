/**
 * Recordings benchmark (central custody), apart from `deno task bench` because it writes gigabytes to disk:
 *
 *   tools/deno/deno run -A --frozen bench/recordings_bench.ts [--gib 2] [--recordings 10000]
 *
 * It runs `./bbblb serve --recordings-dir` as a process on a file store, with one fake BBB server, and writes
 * `bench/RECORDINGS_RESULTS.md`:
 *
 * - **import**: a tar of one format holding `--gib` GiB of random data (generated on disk, deleted afterwards) is
 *   uploaded to `POST /bbblb/v1/recordings` as a stream; measured: the time to the 202 (the archive extracted
 *   and synced to disk), the time until the import is done, and serve's peak RSS (`VmHWM`) before and after,
 *   next to GNU tar extracting the same archive on the same disk (the reference).
 * - **getRecordings**: `--recordings` recordings written into the index, then getRecordings latency (sequential
 *   calls, median and p95) for one meetingID, a page of 100 from the middle, and the whole list, without the
 *   routed fallback (index only) and with it (plus one fake server's answer).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { FakeBbb } from "../tests/fake_bbb.ts";
import { runBbblb, type ServeProcess, signedPath, startServe } from "../tests/bbblb_process.ts";
import { uploadToken } from "../tests/recording_fixtures.ts";
import { updateRecording } from "../src/store/recordings.ts";
import type { RecordingRecord } from "../src/store/recordings.ts";

const args = Deno.args;
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const GIB = flag("--gib", 2);
const N = flag("--recordings", 10_000);
const SECRET = "bench-recordings-secret-0123456789";
const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

function rssOf(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

const mib = (b: number) => `${(b / 1024 ** 2).toFixed(0)} MiB`;

async function sh(cmd: string, ...a: string[]): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command(cmd, { args: a, stderr: "piped", stdout: "null" }).output();
  if (out.code !== 0) throw new Error(`${cmd} ${a.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return performance.now() - t;
}

function stats(ms: number[]): { p50: number; p95: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] };
}

const dir = await Deno.makeTempDir({
  prefix: "bbblb-recbench-",
  dir: Deno.env.get("BENCH_DIR") ?? "/var/tmp",
});
const kv = `${dir}/bbblb.kv`;
const fake = await FakeBbb.start({ secret: `bench-node-${crypto.randomUUID()}` });
let serve: ServeProcess | undefined;
const rows: string[] = [];
const details: string[] = [];
const started = Date.now();
try {
  const added = await runBbblb(["add-server", "1", fake.url, fake.secret, "--no-check"], {
    env: { BBBLB_KV: kv },
  });
  if (added.code !== 0) throw new Error(added.stderr);
  serve = await startServe({
    kv,
    secret: SECRET,
    args: ["--recordings-dir", `${dir}/recordings`, "--poll-interval", "3600", "--log-level", "warn"],
  });
  const base = `http://127.0.0.1:${serve.port}`;

  // --- import of a large archive ---
  const id = `${sha1("bench-big")}-1715262000456`;
  const tree = `${dir}/tree/video/${id}`;
  await Deno.mkdir(tree, { recursive: true });
  await Deno.writeTextFile(
    `${tree}/metadata.xml`,
    `<recording><id>${id}</id><state>published</state><published>true</published><start_time>1715262000456</start_time>` +
      `<end_time>1715265600456</end_time><participants>3</participants><meeting id="${id}" externalId="bench-big" ` +
      `name="Bench" breakout="false"/><meta><meetingId>bench-big</meetingId></meta><playback><format>video</format>` +
      `<link>https://bbb1.example.org/playback/video/${id}/</link><processing_time>1</processing_time>` +
      `<duration>3600000</duration></playback></recording>`,
  );
  const genMs = await sh(
    "sh",
    "-c",
    `dd if=/dev/urandom of=${tree}/video-0.m4v bs=1M count=${Math.round(GIB * 1024)} status=none`,
  );
  const archive = `${dir}/big.tar`;
  await sh("tar", "-C", `${dir}/tree`, "-cf", archive, ".");
  await Deno.remove(`${dir}/tree`, { recursive: true });
  const size = (await Deno.stat(archive)).size;
  details.push(
    `archive: ${mib(size)} (one file of random data, generated in ${(genMs / 1000).toFixed(1)} s)`,
  );
  // reference: GNU tar extracting the same archive on the same disk, synced
  await Deno.mkdir(`${dir}/ref`);
  const refMs = await sh("sh", "-c", `tar -C ${dir}/ref -xf ${archive} && sync -f ${dir}/ref`);
  await Deno.remove(`${dir}/ref`, { recursive: true });
  const pid = serve.child.pid;
  const before = rssOf(pid);
  const token = await uploadToken(fake.secret, { iss: `127.0.0.1:${fake.port}`, aud: base });
  const t0 = performance.now();
  const file = await Deno.open(archive);
  const res = await fetch(`${base}/bbblb/v1/recordings`, {
    method: "POST",
    body: file.readable,
    headers: { authorization: `Bearer ${token}`, "content-length": String(size) },
  });
  const answer = await res.json();
  const acceptedMs = performance.now() - t0;
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(answer)}`);
  let state = answer.state;
  while (state !== "imported" && state !== "failed") {
    await new Promise((r) => setTimeout(r, 50));
    const s = await fetch(`${base}${answer.status}`, { headers: { authorization: `Bearer ${token}` } });
    state = (await s.json()).state;
  }
  const importedMs = performance.now() - t0;
  const after = rssOf(pid);
  await Deno.remove(archive);
  rows.push(
    `| import | upload of a ${
      mib(size)
    } tar to 202 (extracted, synced) / to imported (GNU tar -xf + sync of the same archive) | ${
      (acceptedMs / 1000).toFixed(1)
    } s / ${(importedMs / 1000).toFixed(1)} s (${
      (refMs / 1000).toFixed(1)
    } s) | streamed, never held in memory | ${state} |`,
  );
  rows.push(
    `| import | serve's peak RSS (VmHWM) before / after the upload | ${mib(before.hwm)} / ${
      mib(after.hwm)
    } (RSS now ${mib(after.rss)}) | no growth with the archive's size | ${
      after.hwm - before.hwm < 64 * 1024 ** 2 ? "met" : "**missed**"
    } |`,
  );
  details.push(
    `import: ${(size / 1024 ** 2 / (acceptedMs / 1000)).toFixed(0)} MiB/s through bbblb, ${
      (size / 1024 ** 2 / (refMs / 1000)).toFixed(0)
    } MiB/s for GNU tar; RSS before ${mib(before.rss)}, after ${mib(after.rss)}`,
  );
  await Deno.remove(`${dir}/recordings/video/${id}`, { recursive: true });
  await serve.terminate();
  serve = undefined;

  // --- getRecordings over N recordings in the index ---
  const store = await Deno.openKv(kv);
  const writeStart = performance.now();
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const meetingID = `room-${i % (N / 2)}`;
    const start = 1_700_000_000_000 + i * 60_000;
    const recordID = `${sha1(meetingID)}-${start}`;
    const record: RecordingRecord = {
      recordID,
      tenant: "",
      meetingID,
      internalMeetingID: recordID,
      historyId: null,
      serverId: 1,
      name: `Room ${i}`,
      isBreakout: false,
      startTime: start,
      endTime: start + 3600_000,
      participants: 12,
      rawSize: 1000,
      meta: { meetingId: meetingID, meetingName: `Room ${i}`, isBreakout: "false", "gl-listed": "true" },
      breakout: null,
      breakoutRooms: [],
      formats: {
        presentation: {
          format: "presentation",
          linkPath: `/playback/presentation/2.3/${recordID}`,
          processingTime: 1000,
          duration: 3600_000,
          size: 0,
          bytes: 50_000_000,
          images: [1, 2, 3].map((n) => ({
            path: `/presentation/${recordID}/presentation/d2d9a6-1/thumbnails/thumb-${n}.png`,
            width: "176",
            height: "136",
            alt: `Slide ${n}`,
          })),
          importedAt: start,
          serverId: 1,
        },
      },
      state: "published",
      stateSetByBbblb: false,
      metaChanges: {},
      textTracks: [],
      readyNotified: true,
      createdAt: start,
      updatedAt: start,
    };
    batch.push(updateRecording(store, recordID, () => record));
    if (batch.length >= 50) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  store.close();
  details.push(`index: ${N} recordings written in ${((performance.now() - writeStart) / 1000).toFixed(1)} s`);

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
      ["one meetingID", `meetingID=room-${Math.floor(N / 4)}`, 200],
      ["a page of 100 from the middle", `offset=${Math.floor(N / 2)}&limit=100`, 50],
      [`all ${N}`, "", 10],
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
      rows.push(
        `| getRecordings | ${what}, ${N} in the index, routed fallback ${fallback}: p50 / p95 (${count} listed) | ${
          s.p50.toFixed(1)
        } ms / ${s.p95.toFixed(1)} ms | — | context |`,
      );
    }
    await serve.terminate();
    serve = undefined;
  }
} finally {
  await serve?.kill();
  await fake.close();
  await Deno.remove(dir, { recursive: true });
}

const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
const md = `# bbblb recordings benchmark

Written by \`tools/deno/deno run -A --frozen bench/recordings_bench.ts\` (\`bench/recordings_bench.ts\`); do not
edit by hand. Kept apart from \`deno task bench\`: it writes ${GIB} GiB several times over.

- Machine: ${cpu}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}
- Date: ${new Date().toISOString()}
- Command: \`bench/recordings_bench.ts --gib ${GIB} --recordings ${N}\` (took ${
  Math.round((Date.now() - started) / 1000)
} s)
- bbblb runs as \`./bbblb serve --recordings-dir\` on a file KV; the upload is a plain fetch streaming the file.

| | Figure | Measured | Goal | Verdict |
|---|---|---|---|---|
${rows.join("\n")}

## Details

${details.map((d) => `- ${d}`).join("\n")}
`;
await Deno.writeTextFile(new URL("RECORDINGS_RESULTS.md", import.meta.url), md);
console.log(md);
