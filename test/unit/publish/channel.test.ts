import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { OscdError } from "../../../src/core/errors.js";
import { run } from "../../../src/core/exec.js";
import { formatSecretKey, generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import {
  FileChannel,
  HttpChannel,
  parseManifest,
  serializeManifest,
  signManifest,
  verifyManifest,
  writeChannel,
  type ChannelLocation,
  type Compose,
  type Manifest,
  type ManifestBody,
} from "../../../src/publish/index.js";
import { tempDir } from "../../harness/index.js";
import { HttpStore } from "./http-store.js";

const key = generateSecretKey("fleet-1");
const trusted = [publicKeyOf(key)];
const root = join(import.meta.dirname, "..", "..", "..");
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await tempDir("channel");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function path(i: number): string {
  return `/nix/store/${String(i % 10).repeat(32)}-nixos-system-h${i}`;
}

/** A compose that puts `host` on `toplevel`, keeping every other host of the previous manifest. */
function setHost(host: string, toplevel: string, commit = "a".repeat(40)): Compose {
  return (prev) => ({
    schema: "oscd.manifest/v1",
    channel: "main",
    version: "1.0.0",
    commit,
    ref: "main",
    createdAt: new Date(0).toISOString(),
    hosts: { ...(prev?.hosts ?? {}), [host]: { toplevel, system: "x86_64-linux" } },
    caches: [],
  });
}

async function fileChannel(): Promise<FileChannel> {
  return new FileChannel(join(dir, `c${++n}`, "channels"), "main");
}

async function historyOf(ch: FileChannel): Promise<Manifest[]> {
  const names = (await readdir(ch.dir)).filter((f) => /^main\.\d+\.json$/.test(f));
  return Promise.all(names.map(async (f) => parseManifest(await readFile(join(ch.dir, f), "utf8"), f)));
}

describe("file channel", () => {
  it("numbers manifests 1, 2, 3 and keeps each as history", async () => {
    const ch = await fileChannel();
    for (let i = 1; i <= 3; i++) {
      const w = await writeChannel(ch, [], setHost(`h${i}`, path(i)), key, trusted);
      expect(w).toMatchObject({ status: "written", retries: 0 });
      expect(w.manifest.sequence).toBe(i);
      expect(w.previous?.sequence).toBe(i === 1 ? undefined : i - 1);
    }
    const current = parseManifest(await readFile(ch.currentPath, "utf8"));
    expect(current.sequence).toBe(3);
    expect(Object.keys(current.hosts).sort()).toEqual(["h1", "h2", "h3"]);
    expect((await readdir(ch.dir)).sort()).toEqual(["main.1.json", "main.2.json", "main.3.json", "main.json"]);
  });

  it("writes nothing when the composition says unchanged", async () => {
    const ch = await fileChannel();
    await writeChannel(ch, [], setHost("h1", path(1)), key, trusted);
    const before = await readFile(ch.currentPath, "utf8");
    const w = await writeChannel(ch, [], () => "unchanged", key, trusted);
    expect(w.status).toBe("unchanged");
    expect(w.manifest.sequence).toBe(1);
    expect(await readFile(ch.currentPath, "utf8")).toBe(before);
    expect(await readdir(ch.dir)).toHaveLength(2);
  });

  it("gives 24 concurrent publishes distinct, gap-free sequences, each built on the one before", async () => {
    const ch = await fileChannel();
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => writeChannel(ch, [], setHost(`h${i}`, path(i)), key, trusted)));
    const seqs = results.map((r) => r.manifest.sequence).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(results.some((r) => r.retries > 0)).toBe(true);
    const current = parseManifest(await readFile(ch.currentPath, "utf8"));
    expect(current.sequence).toBe(24);
    // Every publish composed on top of the winner before it: nothing is lost.
    expect(Object.keys(current.hosts)).toHaveLength(24);
    for (const m of await historyOf(ch)) {
      verifyManifest(m, trusted);
      expect(Object.keys(m.hosts)).toHaveLength(m.sequence);
    }
  });

  it("stays consistent when separate processes publish at once", async () => {
    const ch = await fileChannel();
    const keyFile = join(dir, "race.secret");
    await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
    const script = join(dir, "race.mts");
    await writeFile(
      script,
      `import { readSecretKeyFile, publicKeyOf } from ${JSON.stringify(join(root, "src/nix/index.ts"))};
import { FileChannel, writeChannel } from ${JSON.stringify(join(root, "src/publish/index.ts"))};
const [chDir, host, keyFile, start] = process.argv.slice(2);
const key = await readSecretKeyFile(keyFile);
while (Date.now() < Number(start)) await new Promise((r) => setTimeout(r, 1));
const ws = [];
let retries = 0;
for (let i = 0; i < 5; i++) {
  const w = await writeChannel(new FileChannel(chDir, "main"), [], (prev) => ({ schema: "oscd.manifest/v1", channel: "main", version: "1", commit: "${"a".repeat(40)}", ref: "main", createdAt: new Date().toISOString(), hosts: { ...(prev?.hosts ?? {}), [host + "-" + i]: { toplevel: "/nix/store/${"1".repeat(32)}-x", system: "x86_64-linux" } }, caches: [] }), key, [publicKeyOf(key)]);
  ws.push(w.manifest.sequence);
  retries += w.retries;
}
console.log(JSON.stringify({ ws, retries }));
`,
    );
    const start = Date.now() + 3000;
    const procs = await Promise.all(
      ["p1", "p2", "p3", "p4"].map((h) => run("node", ["--import", "tsx", script, ch.dir, h, keyFile, String(start)], { timeoutMs: 60_000, cwd: root })),
    );
    for (const p of procs) expect(p.stderr).toBe("");
    const outs = procs.map((p) => JSON.parse(p.stdout) as { ws: number[]; retries: number });
    const seqs = outs.flatMap((o) => o.ws).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const current = parseManifest(await readFile(ch.currentPath, "utf8"));
    expect(current.sequence).toBe(20);
    expect(Object.keys(current.hosts)).toHaveLength(20);
    expect((await readdir(ch.dir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("refuses to build on a manifest edited by hand (exit 3) and leaves it alone", async () => {
    const ch = await fileChannel();
    await writeChannel(ch, [], setHost("h1", path(1)), key, trusted);
    const text = await readFile(ch.currentPath, "utf8");
    const edited = text.replace(path(1), path(7));
    await writeFile(ch.currentPath, edited);
    const e = await writeChannel(ch, [], setHost("h2", path(2)), key, trusted).catch((err: unknown) => err as { code: string; exitCode: number });
    expect(e).toMatchObject({ code: "manifest-untrusted", exitCode: 3 });
    expect(await readFile(ch.currentPath, "utf8")).toBe(edited);
    expect((await readdir(ch.dir)).sort()).toEqual(["main.1.json", "main.json"]);
  });

  it("moves a current manifest that went backwards forward again, and numbers after the highest", async () => {
    const ch = await fileChannel();
    for (let i = 1; i <= 3; i++) await writeChannel(ch, [], setHost(`h${i}`, path(i)), key, trusted);
    // Someone puts the (validly signed) sequence 1 back as current: a rollback of the channel.
    await writeFile(ch.currentPath, await readFile(ch.historyPath(1), "utf8"));
    const st = await ch.state(trusted);
    expect(st).toMatchObject({ currentSequence: 1, highestSequence: 3 });
    expect(st.latest?.sequence).toBe(3);
    const w = await writeChannel(ch, [], setHost("h4", path(4)), key, trusted);
    expect(w.manifest.sequence).toBe(4);
    expect(Object.keys(w.manifest.hosts).sort()).toEqual(["h1", "h2", "h3", "h4"]);
    expect(parseManifest(await readFile(ch.currentPath, "utf8")).sequence).toBe(4);
  });

  it("copies the manifest to other locations, never over a newer one", async () => {
    const a = await fileChannel();
    const b = await fileChannel();
    const c = await fileChannel();
    for (let i = 1; i <= 5; i++) await writeChannel(c, [], setHost(`c${i}`, path(i)), key, trusted);
    const w = await writeChannel(a, [b, c], setHost("h1", path(1)), key, trusted);
    expect(w.locations).toEqual([
      { url: a.url, status: "written" },
      { url: b.url, status: "written" },
      { url: c.url, status: "newer-kept" },
    ]);
    expect(await readFile(b.currentPath, "utf8")).toBe(await readFile(a.currentPath, "utf8"));
    expect(parseManifest(await readFile(c.currentPath, "utf8")).sequence).toBe(5);
  });
});

describe("history names against their content", () => {
  /** Sequence 1 has h1 on path(1), sequence 2 moves h1 to path(2). */
  async function twoReleases(ch: ChannelLocation): Promise<void> {
    await writeChannel(ch, [], setHost("h1", path(1)), key, trusted);
    await writeChannel(ch, [], setHost("h1", path(2)), key, trusted);
  }

  it("refuses an old signed manifest copied to a higher history name, instead of carrying its entries over (file)", async () => {
    const ch = await fileChannel();
    await twoReleases(ch);
    // The replay: sequence 1 (h1 on its old toplevel) under the name of sequence 7.
    await writeFile(ch.historyPath(7), await readFile(ch.historyPath(1), "utf8"));
    const before = (await readdir(ch.dir)).sort();
    const err = await writeChannel(ch, [], setHost("h2", path(3)), key, trusted).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OscdError);
    expect(err).toMatchObject({ code: "manifest-history-mismatch", exitCode: 3 });
    expect((err as Error).message).toMatch(/main\.7\.json is named as sequence 7 but holds sequence 1/);
    expect((err as Error).message).not.toContain("\n");
    expect((await readdir(ch.dir)).sort()).toEqual(before);
    const current = parseManifest(await readFile(ch.currentPath, "utf8"));
    expect(current).toMatchObject({ sequence: 2, hosts: { h1: { toplevel: path(2) } } });
  });

  it("refuses such a copy at 2^53 - 1 with a typed error, ignores names no manifest can have, and stops typed at the last sequence", async () => {
    const ch = await fileChannel();
    await twoReleases(ch);
    await writeFile(join(ch.dir, "main.9007199254740991.json"), await readFile(ch.historyPath(1), "utf8"));
    await expect(writeChannel(ch, [], setHost("h2", path(3)), key, trusted)).rejects.toMatchObject({ code: "manifest-history-mismatch" });
    await rm(join(ch.dir, "main.9007199254740991.json"));
    // Beyond 2^53 - 1 or with leading zeros: not history names at all.
    for (const name of ["main.99999999999999999999.json", "main.9007199254740993.json", "main.0003.json", "main.0.json"]) {
      await writeFile(join(ch.dir, name), "junk");
    }
    const w = await writeChannel(ch, [], setHost("h2", path(3)), key, trusted);
    expect(w.manifest.sequence).toBe(3);
    // A genuine manifest at the last sequence a manifest can carry: the next one is refused, typed.
    const { signatures: _signatures, ...body } = w.manifest;
    const last = signManifest({ ...body, sequence: Number.MAX_SAFE_INTEGER }, key);
    await writeFile(join(ch.dir, `main.${Number.MAX_SAFE_INTEGER}.json`), serializeManifest(last));
    await expect(writeChannel(ch, [], setHost("h4", path(4)), key, trusted)).rejects.toMatchObject({ code: "channel-sequence-exhausted", exitCode: 3 });
  });

  it("refuses an old manifest copied to a higher history name on an http cache", async () => {
    const store = await HttpStore.start();
    try {
      const ch = new HttpChannel(`${store.url}/cache`, "main");
      await twoReleases(ch);
      store.files.set("/cache/channels/main.3.json", store.files.get("/cache/channels/main.1.json") as Buffer);
      await expect(writeChannel(ch, [], setHost("h2", path(3)), key, trusted)).rejects.toMatchObject({ code: "manifest-history-mismatch", exitCode: 3 });
      expect(store.files.has("/cache/channels/main.4.json")).toBe(false);
      expect(parseManifest((store.files.get("/cache/channels/main.json") as Buffer).toString()).sequence).toBe(2);
    } finally {
      await store.stop();
    }
  });

  it("refuses a channel name that is not one (path parts, dots) when a location is made", () => {
    for (const bad of ["../x", "a.b", "", "x/y", "a".repeat(64)]) {
      expect(() => new FileChannel(dir, bad)).toThrow(expect.objectContaining({ code: "bad-channel" }) as Error);
      expect(() => new HttpChannel("http://127.0.0.1:1/cache", bad)).toThrow(expect.objectContaining({ code: "bad-channel" }) as Error);
    }
  });
});

describe("http channel", () => {
  let store: HttpStore;
  beforeAll(async () => {
    store = await HttpStore.start();
  });
  afterAll(async () => {
    await store.stop();
  });
  afterEach(() => {
    store.files.clear();
    store.readOnly = false;
  });

  const channel = (): ChannelLocation => new HttpChannel(`${store.url}/cache?compression=zstd`, "main");

  it("claims sequences with If-None-Match and replaces the current manifest with If-Match", async () => {
    const ch = channel();
    expect(ch.url).toBe(`${store.url}/cache/channels/main.json`);
    for (let i = 1; i <= 2; i++) await writeChannel(ch, [], setHost(`h${i}`, path(i)), key, trusted);
    expect([...store.files.keys()].sort()).toEqual(["/cache/channels/main.1.json", "/cache/channels/main.2.json", "/cache/channels/main.json"]);
    const current = parseManifest((store.files.get("/cache/channels/main.json") as Buffer).toString());
    expect(current.sequence).toBe(2);
    expect(Object.keys(current.hosts)).toEqual(["h1", "h2"]);
    expect(store.log).toContain("PUT /cache/channels/main.2.json");
  });

  it("gives concurrent publishes distinct sequences and ends on the highest", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => writeChannel(channel(), [], setHost(`h${i}`, path(i)), key, trusted)));
    expect(results.map((r) => r.manifest.sequence).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const current = parseManifest((store.files.get("/cache/channels/main.json") as Buffer).toString());
    expect(current.sequence).toBe(8);
    expect(Object.keys(current.hosts)).toHaveLength(8);
  });

  it("refuses a tampered manifest on the server (exit 3)", async () => {
    await writeChannel(channel(), [], setHost("h1", path(1)), key, trusted);
    const m = parseManifest((store.files.get("/cache/channels/main.json") as Buffer).toString());
    store.files.set("/cache/channels/main.json", Buffer.from(serializeManifest({ ...m, version: "6.6.6" })));
    await expect(writeChannel(channel(), [], setHost("h2", path(2)), key, trusted)).rejects.toMatchObject({ code: "manifest-untrusted", exitCode: 3 });
  });

  it("names a server that refuses uploads, and one that cannot be reached", async () => {
    store.readOnly = true;
    await expect(writeChannel(channel(), [], setHost("h1", path(1)), key, trusted)).rejects.toThrow(/cannot write the manifest at .*main.1.json: PUT answered 403/);
    const closed = await HttpStore.start();
    await closed.stop();
    await expect(writeChannel(new HttpChannel(closed.url, "main"), [], setHost("h1", path(1)), key, trusted)).rejects.toMatchObject({
      code: "manifest-store-unreachable",
      message: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  it("keeps a newer manifest on the server when another location is behind", async () => {
    const ch = channel();
    for (let i = 1; i <= 3; i++) await writeChannel(ch, [], setHost(`h${i}`, path(i)), key, trusted);
    const local = await fileChannel();
    const w = await writeChannel(local, [ch], setHost("x", path(9)), key, trusted);
    expect(w.manifest.sequence).toBe(1);
    expect(w.locations[1]).toEqual({ url: ch.url, status: "newer-kept" });
    expect(parseManifest((store.files.get("/cache/channels/main.json") as Buffer).toString()).sequence).toBe(3);
  });
});

// Keep the type imports honest: a body without a sequence is what compose returns.
export type _Body = Omit<ManifestBody, "sequence">;
void signManifest;
