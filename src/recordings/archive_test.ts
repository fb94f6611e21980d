import assert from "node:assert/strict";
import { ArchiveError, extractArchive, stageFolder } from "./archive.ts";
import { tarOf } from "../../tests/recording_fixtures.ts";

const ID = "1b6a4d2b4a0b8e2d2f9d1c3a5e7f9b1d3c5e7a9b-1715262000456";

function streamOf(bytes: Uint8Array, chunk = 4096): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

async function files(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await files(`${dir}/${e.name}`, rel));
    else out.push(rel);
  }
  return out.sort();
}

async function withDir(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "bbblb-archive-" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("extractArchive() stages a plain and a gzip tar of <format>/<recordID>/… with readable files", async () => {
  for (const gzip of [false, true]) {
    await withDir(async (dir) => {
      const archive = await tarOf([
        { name: "./presentation/", type: "directory" },
        { name: `./presentation/${ID}/`, type: "directory" },
        { name: `./presentation/${ID}/metadata.xml`, content: "<recording/>" },
        { name: `presentation/${ID}/video/webcams.webm`, content: new Uint8Array(10_000).fill(7) },
        { name: `video/${ID}/video-0.m4v`, content: "movie" },
      ], { gzip });
      const items = await extractArchive(streamOf(archive), dir);
      assert.deepEqual(
        items.map((i) => [i.format, i.recordID, i.bytes]).sort(),
        [["presentation", ID, 10_012], ["video", ID, 5]],
      );
      assert.deepEqual(await files(dir), [
        `presentation/${ID}/metadata.xml`,
        `presentation/${ID}/video/webcams.webm`,
        `video/${ID}/video-0.m4v`,
      ]);
      assert.equal((await Deno.stat(`${dir}/video/${ID}/video-0.m4v`)).mode! & 0o777, 0o644);
      assert.equal((await Deno.stat(`${dir}/presentation/${ID}/video`)).mode! & 0o777, 0o755);
    });
  }
});

Deno.test("extractArchive() refuses links, devices, .. and absolute paths, and writes nothing outside", async () => {
  const cases: [string, Parameters<typeof tarOf>[0]][] = [
    ["a symbolic link", [{ name: `presentation/${ID}/evil`, type: "symlink", linkname: "/etc/passwd" }]],
    ["a hard link", [{ name: `presentation/${ID}/evil`, type: "link", linkname: `presentation/${ID}/a` }]],
    ["a device", [{ name: `presentation/${ID}/tty`, type: "character-device" }]],
    ["a fifo", [{ name: `presentation/${ID}/pipe`, type: "fifo" }]],
    ["..", [{ name: `presentation/${ID}/../../../escaped.txt`, content: "x" }]],
    ["an absolute path", [{ name: "/tmp/bbblb-escaped.txt", content: "x" }]],
  ];
  for (const [what, entries] of cases) {
    await withDir(async (parent) => {
      const dir = `${parent}/staging`;
      await Deno.mkdir(dir);
      const archive = await tarOf([
        { name: `presentation/${ID}/metadata.xml`, content: "<recording/>" },
        ...entries,
      ]);
      await assert.rejects(
        () => extractArchive(streamOf(archive), dir),
        (e) => e instanceof ArchiveError && e.problem === "unsafe",
        what,
      );
      assert.deepEqual(await files(parent), [`staging/presentation/${ID}/metadata.xml`], what);
    });
  }
  assert.equal(await Deno.stat("/tmp/bbblb-escaped.txt").then(() => true, () => false), false);
});

Deno.test("extractArchive() refuses a layout other than <format>/<recordID>/ and an archive without one", async () => {
  await withDir(async (dir) => {
    for (
      const entries of [
        [{ name: "etc/passwd", content: "x" }],
        [{ name: "presentation/not-a-record-id/metadata.xml", content: "x" }],
        [{ name: `presentation/${ID}`, content: "a file where a folder belongs" }],
      ]
    ) {
      await assert.rejects(
        async () => extractArchive(streamOf(await tarOf(entries)), dir),
        (e) => e instanceof ArchiveError && e.problem === "unreadable",
      );
    }
    await assert.rejects(
      async () => extractArchive(streamOf(await tarOf([{ name: "presentation/", type: "directory" }])), dir),
      (e) => e instanceof ArchiveError && e.problem === "empty",
    );
  });
});

Deno.test("extractArchive() says unreadable for garbage, a cut archive and a broken gzip stream", async () => {
  const good = await tarOf([{ name: `video/${ID}/video-0.m4v`, content: new Uint8Array(100_000) }]);
  const gz = await tarOf([{ name: `video/${ID}/video-0.m4v`, content: new Uint8Array(100_000) }], {
    gzip: true,
  });
  for (
    const [what, bytes] of [
      ["garbage", new TextEncoder().encode("this is not a tar archive at all ".repeat(40))],
      ["a cut archive", good.slice(0, 50_000)],
      ["a broken gzip stream", Uint8Array.from([...gz.slice(0, 40), ...new Uint8Array(200).fill(9)])],
    ] as const
  ) {
    await withDir(async (dir) => {
      await assert.rejects(
        () => extractArchive(streamOf(bytes as Uint8Array), dir),
        (e) => e instanceof ArchiveError && e.problem === "unreadable",
        what,
      );
    });
  }
});

Deno.test("extractArchive() stops past the byte limit, also for content that a small gzip expands to", async () => {
  await withDir(async (dir) => {
    const bomb = await tarOf([{ name: `video/${ID}/zeros`, content: new Uint8Array(5_000_000) }], {
      gzip: true,
    });
    assert.ok(bomb.length < 100_000);
    await assert.rejects(
      () => extractArchive(streamOf(bomb), dir, { maxBytes: 1_000_000 }),
      (e) => e instanceof ArchiveError && e.problem === "tooLarge",
    );
  });
});

Deno.test("stageFolder() copies a published tree and refuses a link in it", async () => {
  await withDir(async (root) => {
    const src = `${root}/published`;
    await Deno.mkdir(`${src}/presentation/${ID}/video`, { recursive: true });
    await Deno.writeTextFile(`${src}/presentation/${ID}/metadata.xml`, "<recording/>");
    await Deno.writeFile(`${src}/presentation/${ID}/video/webcams.webm`, new Uint8Array(300));
    await Deno.mkdir(`${root}/a`);
    const items = await stageFolder(src, `${root}/a`);
    assert.deepEqual(items, [{ format: "presentation", recordID: ID, bytes: 312 }]);
    assert.deepEqual(await files(`${root}/a`), [
      `presentation/${ID}/metadata.xml`,
      `presentation/${ID}/video/webcams.webm`,
    ]);
    await Deno.symlink("/etc/passwd", `${src}/presentation/${ID}/passwd`);
    await Deno.mkdir(`${root}/b`);
    await assert.rejects(
      () => stageFolder(src, `${root}/b`),
      (e) => e instanceof ArchiveError && e.problem === "unsafe",
    );
  });
});
