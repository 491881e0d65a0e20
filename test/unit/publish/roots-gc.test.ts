import { mkdir, symlink, utimes, writeFile, lutimes } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { gcRoots, planRootsGc, serializeManifest, signManifest } from "../../../src/publish/index.js";
import { generateSecretKey } from "../../../src/nix/index.js";
import { tempDir } from "../../harness/fixtures.js";

const NOW = new Date("2026-06-01T00:00:00Z");
const DAY = 86_400_000;
const sp = (c: string, name: string) => `/nix/store/${c.repeat(32)}-${name}`;
const commit = (n: number) => n.toString(16).padStart(40, "0");
let roots: string;
let channels: string;

async function root(name: string, target: string, ageDays: number): Promise<void> {
  await mkdir(join(roots, name, ".."), { recursive: true });
  await symlink(target, join(roots, name));
  const t = new Date(NOW.getTime() - ageDays * DAY);
  await lutimes(join(roots, name), t, t);
}

beforeAll(async () => {
  roots = await tempDir("roots-gc");
  channels = await tempDir("roots-gc-channels");
  for (let i = 1; i <= 8; i++) await root(`source-${commit(i)}`, sp("a", `source-${i}`), 20 - i);
  await root("source-local-abc-dirty-1", sp("b", "source-local"), 40);
  await root("build-fleet-web1", sp("c", "nixos-system-web1"), 30);
  await root("build-fleet-web2", sp("d", "nixos-system-web2"), 2);
  await root("update-check-eval", sp("f", "check"), 30);
  await root("inspect/inspect-from-web1", sp("g", "inspect"), 30);
  // The engine's roots on a machine, and a name oscd does not know: never touched.
  await root("generation-4-source", sp("h", "gen"), 400);
  await root("pending-xyz", sp("i", "pending"), 400);
  await root("someone-elses", sp("j", "other"), 400);
  const key = generateSecretKey("fleet-1");
  // main: sequences 1..7; the newest 2 name commit 2 (an old snapshot) and web1's build.
  for (let s = 1; s <= 7; s++) {
    const m = signManifest(
      { schema: "oscd.manifest/v1", channel: "main", sequence: s, version: `1.0.${s}`, commit: commit(s >= 6 ? 2 : 100 + s), ref: "main", createdAt: NOW.toISOString(), hosts: { web1: { toplevel: s >= 6 ? sp("c", "nixos-system-web1") : sp("z", `old-${s}`), system: "x86_64-linux" } }, caches: [] },
      key,
    );
    await writeFile(join(channels, `main.${s}.json`), serializeManifest(m));
  }
  await writeFile(join(channels, "main.8.json"), "{ damaged");
  void utimes;
});

describe("retention of a build machine's roots", () => {
  it("keeps the newest snapshots, what recent manifests name, and every result root by default", async () => {
    const { roots: plan, manifests } = await planRootsGc({ rootDir: roots, manifestDirs: [channels], keepSequences: 2, keepSources: 3, now: NOW });
    expect(manifests.sort()).toEqual(["main#6", "main#7"]);
    const fate = Object.fromEntries(plan.map((r) => [r.name, r.keep]));
    expect(Object.keys(fate).sort()).toEqual(
      [...Array.from({ length: 8 }, (_, i) => `source-${commit(i + 1)}`), "source-local-abc-dirty-1", "build-fleet-web1", "build-fleet-web2", "update-check-eval", "inspect/inspect-from-web1"].sort(),
    );
    expect(fate[`source-${commit(8)}`]).toEqual(["newest"]);
    expect(fate[`source-${commit(6)}`]).toEqual(["newest"]);
    expect(fate[`source-${commit(2)}`]).toEqual(["commit of a manifest"]);
    expect(fate[`source-${commit(5)}`]).toEqual([]);
    expect(fate["source-local-abc-dirty-1"]).toEqual([]);
    expect(fate["build-fleet-web2"]).toEqual(["latest result"]);
  });

  it("with --older-than, old result roots go unless a manifest names them", async () => {
    const { roots: plan } = await planRootsGc({ rootDir: roots, manifestDirs: [channels], keepSequences: 2, olderThanMs: 7 * DAY, now: NOW });
    const fate = Object.fromEntries(plan.map((r) => [r.name, r.keep]));
    expect(fate["build-fleet-web1"]).toEqual(["named by a manifest"]);
    expect(fate["build-fleet-web2"]).toEqual(["recent"]);
    expect(fate["update-check-eval"]).toEqual([]);
    expect(fate["inspect/inspect-from-web1"]).toEqual([]);
  });

  it("removes what goes and nothing else (dry run first)", async () => {
    const dry = await gcRoots({ rootDir: roots, manifestDirs: [channels], keepSequences: 2, dryRun: true, now: NOW });
    expect(dry.removed.sort()).toEqual([1, 3, 4, 5].map((i) => `source-${commit(i)}`).concat("source-local-abc-dirty-1").sort());
    const { readdir } = await import("node:fs/promises");
    expect((await readdir(roots)).length).toBe(16);
    await gcRoots({ rootDir: roots, manifestDirs: [channels], keepSequences: 2, now: NOW });
    const left = (await readdir(roots)).sort();
    expect(left).toEqual(
      ["build-fleet-web1", "build-fleet-web2", "generation-4-source", "inspect", "pending-xyz", `source-${commit(2)}`, `source-${commit(6)}`, `source-${commit(7)}`, `source-${commit(8)}`, "someone-elses", "update-check-eval"].sort(),
    );
  });
});
