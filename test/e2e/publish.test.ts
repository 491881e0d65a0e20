import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/core/exec.js";
import { formatPublicKey, formatSecretKey, generateSecretKey, parseNarInfo, formatNarInfo, pathInfo, publicKeyOf, verifyNarInfo } from "../../src/nix/index.js";
import { narHashForSigning, parseManifest, verifyManifest, type Manifest } from "../../src/publish/index.js";
import { FleetRepo, SimHost, tempDir, uniqueMarker } from "../harness/index.js";
import { json, oscd, oscdArgv } from "../integration/builder/helpers.js";

/**
 * Central build → binary cache → signed manifest, end to end: `oscd publish` from a fixture
 * fleet into a file cache, then simulated NixOS machines with stores of their own that trust
 * only the fleet key substitute from it with real Nix checking oscd's signatures.
 */
let dir: string;
let fleet: FleetRepo;
let cache: string;
let keyFile: string;
let publicKey: string;
const key = generateSecretKey("fleet-e2e");
const rootDir = "/nix/var/nix/gcroots/oscd-tests-e2e-publish";
const hosts: SimHost[] = [];

interface Summary {
  status: string;
  sequence: number;
  previousSequence?: number;
  uploadedPaths: number;
  hosts: { name: string; build: string; entry: string; toplevel?: string; uploadedPaths: number; error?: { code: string; message: string } }[];
  failed: string[];
}

beforeAll(async () => {
  dir = await tempDir("e2e-publish");
  const m = uniqueMarker();
  fleet = await FleetRepo.create({ hosts: ["web1", "web2", "db1"].map((name) => ({ name, marker: m })) });
  publicKey = formatPublicKey(publicKeyOf(key));
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  cache = join(dir, "cache");
  await fleet.commitFile("oscd.toml", `caches = ["file://${cache}"]\n[keys]\ntrusted = ["${publicKey}"]\n`);
});

afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

function publish(...extra: string[]) {
  return oscd(["publish", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--json", ...extra], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
}

async function current(): Promise<Manifest> {
  const m = parseManifest(await readFile(join(cache, "channels", "main.json"), "utf8"));
  verifyManifest(m, [publicKeyOf(key)]);
  return m;
}

/** Every file under the cache with its size and modification time. */
async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else {
        const s = await stat(join(root, p));
        out.push(`${p} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  await walk("");
  return out.sort();
}

async function simHost(name: string): Promise<SimHost> {
  const h = await SimHost.create({ name, substituters: [`file://${cache}`], trustedPublicKeys: [publicKey] });
  hosts.push(h);
  return h;
}

async function narinfoOf(storePath: string): Promise<string> {
  return join(cache, `${storePath.slice("/nix/store/".length, "/nix/store/".length + 32)}.narinfo`);
}

describe("oscd publish, end to end", () => {
  let first: Manifest;

  it("publishes three hosts; a machine trusting only the fleet key substitutes and switches to its toplevel", async () => {
    const r = await publish();
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.exitCode).toBe(0);
    const s = json<Summary>(r);
    expect(s).toMatchObject({ status: "written", sequence: 1, uploadedPaths: 5 });
    expect(s.hosts.map((h) => [h.name, h.build, h.entry])).toEqual([
      ["db1", "built", "new"],
      ["web1", "built", "new"],
      ["web2", "built", "new"],
    ]);
    expect(r.stderr).toMatch(/web1 +│ upload +uploaded to file:\/\//);
    first = await current();
    expect(first).toMatchObject({ sequence: 1, commit: await fleet.head(), ref: "main", version: "1.0.0" });

    const web1 = await simHost("pub-web1");
    const top = first.hosts.web1?.toplevel as string;
    expect(top).toBe(s.hosts.find((h) => h.name === "web1")?.toplevel);
    // The machine's own check of the manifest, then real Nix substitutes with require-sigs on.
    const verified = await web1.exec(await oscdArgv(["manifest", "verify", join(cache, "channels", "main.json"), "--trusted-key", publicKey]));
    expect(verified.stdout).toMatch(/^ok: channel main sequence 1 .* signed by fleet-e2e/);
    expect((await web1.exec(["nix-store", "--check-validity", top])).exitCode).not.toBe(0);
    await web1.sh(["nix-store", "--realise", top, "--max-jobs", "0"]);
    await web1.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", top]);
    await web1.sh([`${top}/bin/switch-to-configuration`, "switch"]);
    expect(await web1.currentSystem()).toBe(top);
    expect((await web1.sh(["cat", `${top}/etc/hostname`])).stdout.trim()).toBe("web1");
  });

  it("a machine refuses a tampered narinfo, and a tampered manifest fails verification", async () => {
    const web2 = first.hosts.web2?.toplevel as string;
    const db1 = first.hosts.db1?.toplevel as string;
    const file = await narinfoOf(web2);
    const original = await readFile(file, "utf8");
    // The attack a cache operator could try: serve db1's contents under web2's name and signature.
    const evil = parseNarInfo(await readFile(await narinfoOf(db1), "utf8"));
    const n = parseNarInfo(original);
    await writeFile(file, formatNarInfo({ ...n, url: evil.url, fileHash: evil.fileHash, fileSize: evil.fileSize, narHash: evil.narHash, narSize: evil.narSize }));
    const m = await simHost("pub-tamper");
    const r = await m.exec(["nix-store", "--realise", web2, "--max-jobs", "0"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/not signed by any of the keys|lacks a signature by a trusted key/);
    expect((await m.exec(["nix-store", "--check-validity", web2])).exitCode).not.toBe(0);
    await writeFile(file, original);
    // Restored, the same machine accepts it.
    await m.sh(["nix-store", "--realise", web2, "--max-jobs", "0"]);

    const manifestFile = join(cache, "channels", "main.json");
    const text = await readFile(manifestFile, "utf8");
    await writeFile(manifestFile, text.replace(first.hosts.web1?.toplevel as string, db1));
    const refused = await m.exec(await oscdArgv(["manifest", "verify", manifestFile, "--trusted-key", publicKey]));
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(/oscd: error\[manifest-untrusted\]: .*the signature by fleet-e2e does not match the content/);
    const publishRefused = await publish();
    expect(publishRefused.exitCode).toBe(3);
    // The history keeps the signed original: restore from it.
    await writeFile(manifestFile, await readFile(join(cache, "channels", "main.1.json"), "utf8"));
    expect(await readFile(manifestFile, "utf8")).toBe(text);
  });

  it("publishing the same commit again builds and uploads nothing, and changes no file in the cache", async () => {
    const before = await listing(cache);
    const r = await publish();
    expect(r.exitCode).toBe(0);
    const s = json<Summary>(r);
    expect(s).toMatchObject({ status: "unchanged", sequence: 1, uploadedPaths: 0 });
    expect(s.hosts.map((h) => [h.build, h.entry, h.uploadedPaths])).toEqual([
      ["present", "unchanged", 0],
      ["present", "unchanged", 0],
      ["present", "unchanged", 0],
    ]);
    expect(r.stderr).not.toMatch(/building|uploading/);
    expect(await listing(cache)).toEqual(before);
  });

  it("a commit changing one host changes only that host's entry, and uploads only its toplevel", async () => {
    const before = await current();
    await fleet.commitHostChange("web2", uniqueMarker());
    const r = await publish();
    expect(r.exitCode).toBe(0);
    const s = json<Summary>(r);
    expect(s).toMatchObject({ status: "written", sequence: 2, previousSequence: 1, uploadedPaths: 1 });
    expect(s.hosts.map((h) => [h.name, h.build, h.entry])).toEqual([
      ["db1", "present", "unchanged"],
      ["web1", "present", "unchanged"],
      ["web2", "built", "changed"],
    ]);
    const after = await current();
    expect(after.commit).toBe(await fleet.head());
    expect(after.hosts.web1).toEqual(before.hosts.web1);
    expect(after.hosts.db1).toEqual(before.hosts.db1);
    expect(after.hosts.web2?.toplevel).not.toBe(before.hosts.web2?.toplevel);
    // A machine picks the new web2 up from the cache.
    const m = await simHost("pub-web2");
    await m.sh(["nix-store", "--realise", after.hosts.web2?.toplevel as string, "--max-jobs", "0"]);
  });

  it("racing publishes get distinct, increasing sequences and leave the highest as current", async () => {
    const base = await fleet.head();
    const commits: string[] = [];
    for (const [branch, host] of [
      ["race-a", "web1"],
      ["race-b", "web2"],
      ["race-c", "db1"],
    ] as const) {
      await fleet.git(["checkout", "-q", "-b", branch, base]);
      commits.push(await fleet.commitHostChange(host, uniqueMarker()));
    }
    await fleet.git(["checkout", "-q", "main"]);
    const runs = await Promise.all(
      ["race-a", "race-b", "race-c"].map((ref) =>
        oscd(["publish", "--repo", fleet.dir, "--ref", ref, "--state-dir", join(dir, `state-${ref}`), "--roots-dir", rootDir, "--json"], { env: { OSCD_SIGNING_KEY_FILE: keyFile } }),
      ),
    );
    for (const r of runs) expect(r.exitCode, r.stderr).toBe(0);
    const seqs = runs.map((r) => json<Summary>(r).sequence);
    expect([...seqs].sort()).toEqual([3, 4, 5]);
    const cur = await current();
    expect(cur.sequence).toBe(5);
    const history = await Promise.all([3, 4, 5].map(async (n) => parseManifest(await readFile(join(cache, "channels", `main.${n}.json`), "utf8"))));
    for (const h of history) verifyManifest(h, [publicKeyOf(key)]);
    expect(history.map((h) => h.commit).sort()).toEqual([...commits].sort());
    expect(JSON.stringify(cur)).toBe(JSON.stringify(history[2]));
    expect((await readdir(join(cache, "channels"))).filter((f) => f.startsWith("."))).toEqual([]);
  });

  it("a host that fails to evaluate keeps its previous entry; the others are published and the command exits 1 naming it", async () => {
    const before = await current();
    await fleet.commitHostChange("web1", uniqueMarker());
    await fleet.commitFile("hosts/db1.nix", '{ hostname = throw "db1 does not evaluate"; marker = ""; }\n');
    const r = await publish();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/oscd: error\[hosts-failed\]: 1 of 3 host\(s\) failed: db1 \(evaluate: .*db1 does not evaluate/);
    const s = json<Summary>(r);
    expect(s.failed).toEqual(["db1"]);
    expect(s.hosts.find((h) => h.name === "db1")).toMatchObject({ build: "failed", entry: "kept-previous" });
    expect(s.hosts.find((h) => h.name === "web1")).toMatchObject({ build: "built", entry: "changed" });
    const after = await current();
    expect(after.sequence).toBe(before.sequence + 1);
    expect(after.hosts.db1).toEqual(before.hosts.db1);
    expect(after.hosts.web1?.toplevel).not.toBe(before.hosts.web1?.toplevel);
  });
});

describe("oscd publish over a cache someone else wrote to", () => {
  it("never signs a foreign NAR under a fleet path's name: the local bytes are uploaded, and a machine gets them", async () => {
    const m = uniqueMarker();
    const repo = await FleetRepo.create({ hosts: ["a1", "a2"].map((name) => ({ name, marker: m })) });
    const scratch = join(dir, "scratch-cache");
    const evil = join(dir, "evil-cache");
    try {
      await repo.commitFile("oscd.toml", `caches = ["file://${evil}"]\n[keys]\ntrusted = ["${publicKey}"]\n`);
      const args = (cache: string) => ["publish", "--repo", repo.dir, "--cache", `file://${cache}`, "--state-dir", join(dir, "state-evil"), "--roots-dir", rootDir, "--json"];
      // Build (and publish to a scratch cache) to learn the toplevels.
      const built = await oscd(args(scratch), { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
      expect(built.exitCode, built.stderr).toBe(0);
      const tops = Object.fromEntries(json<Summary>(built).hosts.map((h) => [h.name, h.toplevel as string]));
      const a1 = tops.a1 as string;
      const a2 = tops.a2 as string;

      // Someone who can write to the cache but has no key uploads the closures unsigned, with
      // a1's narinfo pointing at a2's NAR (its hash and size are right for those bytes).
      const copied = await run("nix", ["copy", "--to", `file://${evil}`, a1, a2], { timeoutMs: 120_000 });
      expect(copied.exitCode, copied.stderr).toBe(0);
      for (const f of (await readdir(evil)).filter((f) => f.endsWith(".narinfo"))) {
        const n = parseNarInfo(await readFile(join(evil, f), "utf8"));
        await writeFile(join(evil, f), formatNarInfo({ ...n, sigs: [] }));
      }
      const narInfoName = (p: string) => `${p.slice("/nix/store/".length, "/nix/store/".length + 32)}.narinfo`;
      const a1File = join(evil, narInfoName(a1));
      const foreign = parseNarInfo(await readFile(join(evil, narInfoName(a2)), "utf8"));
      const forged = parseNarInfo(await readFile(a1File, "utf8"));
      await writeFile(a1File, formatNarInfo({ ...forged, url: foreign.url, fileHash: foreign.fileHash, fileSize: foreign.fileSize, narHash: foreign.narHash, narSize: foreign.narSize }));

      const r = await oscd(args(evil), { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
      expect(r.exitCode, r.stderr).toBe(0);

      // A machine trusting only the fleet key gets a1's own bytes.
      const host = await SimHost.create({ name: "pub-foreign", substituters: [`file://${evil}`], trustedPublicKeys: [publicKey] });
      hosts.push(host);
      await host.sh(["nix-store", "--realise", a1, "--max-jobs", "0"]);
      expect((await host.sh(["cat", `${a1}/etc/hostname`])).stdout.trim()).toBe("a1");

      // The cache now describes the local bytes of a1, signed by the fleet key, and says so.
      const [local] = await pathInfo([a1]);
      const now = parseNarInfo(await readFile(a1File, "utf8"));
      expect(now.narHash).toBe(narHashForSigning(local?.narHash as string));
      expect(now.sigs.some((sig) => sig.startsWith("fleet-e2e:"))).toBe(true);
      // No fleet signature covers the foreign NAR under a1's name.
      expect(verifyNarInfo({ ...now, narHash: foreign.narHash, narSize: foreign.narSize }, [publicKeyOf(key)])).toBe(false);
      const s = json<Summary & { caches: { replacedInCache: number; signedInCache: number }[] }>(r);
      expect(s.caches[0]).toMatchObject({ replacedInCache: 1 });
    } finally {
      await repo.destroy();
    }
  });
});
