import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitRemoteUnreachableError, GitUnknownRefError } from "../../../src/git/index.js";
import { instantiate } from "../../../src/nix/index.js";
import { NoReleaseError, prepareSource, specFromFlags } from "../../../src/source/index.js";
import { FleetRepo, tempDir } from "../../harness/index.js";

let dir: string;
let fleet: FleetRepo;
let v1: string;
let v11: string;
let testing: string;
const rootDir = "/nix/var/nix/gcroots/oscd-tests-source";

beforeAll(async () => {
  dir = await tempDir("source");
  fleet = await FleetRepo.create({ layout: "flake" });
  v1 = await fleet.release("1.0.0");
  v11 = await fleet.release("1.1.0");
  testing = await fleet.commitHostChange("web1", "try this");
  await fleet.branch("testing");
  await fleet.git(["reset", "-q", "--hard", v11]);
});
afterAll(async () => {
  await fleet.destroy();
  await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

const opts = () => ({ remote: fleet.url, mirrorDir: join(dir, "mirror.git"), rootDir });

describe("source preparation", () => {
  it("pins the newest release by default, as a read-only snapshot of that commit", async () => {
    const s = await prepareSource({ kind: "latest" }, opts());
    expect(s).toMatchObject({ commit: v11, ref: "v1.1.0", tag: "v1.1.0", version: "1.1.0", dirty: false });
    expect(s.snapshot.storePath).toMatch(/^\/nix\/store\/[a-z0-9]{32}-oscd-source-/);
    expect(await readFile(join(s.snapshot.storePath, "VERSION"), "utf8")).toBe("1.1.0\n");
    await expect(stat(join(s.snapshot.storePath, ".git"))).rejects.toThrow();
    // Read-only for everyone (root could still write, so this checks the bits, not a write).
    expect((await stat(join(s.snapshot.storePath, "VERSION"))).mode & 0o222).toBe(0);
    expect((await stat(s.snapshot.storePath)).mode & 0o222).toBe(0);
    // The snapshot evaluates on its own, locked by its hash.
    const [d] = await instantiate({ kind: "flake", flakeRef: s.snapshot.flakeRef }, [fleet.attr("web1")]);
    expect(d?.outPath).toMatch(/nixos-system-web1-1.1.0$/);
  });

  it("pins a tag, a branch and a commit", async () => {
    expect(await prepareSource(specFromFlags({ tag: "v1.0.0" }), opts())).toMatchObject({ commit: v1, version: "1.0.0", tag: "v1.0.0" });
    expect(await prepareSource(specFromFlags({ branch: "testing" }), opts())).toMatchObject({ commit: testing, ref: "testing" });
    expect(await prepareSource(specFromFlags({ commit: v1.slice(0, 10) }), opts())).toMatchObject({ commit: v1, ref: v1, tag: "v1.0.0" });
  });

  it("snapshots a local tree with its uncommitted changes", async () => {
    await writeFile(join(fleet.dir, "hosts", "web2.nix"), (await readFile(join(fleet.dir, "hosts", "web2.nix"), "utf8")).replace('marker = ""', 'marker = "wip"'));
    const s = await prepareSource(specFromFlags({ local: fleet.dir }), opts());
    expect(s.dirty).toBe(true);
    expect(s.ref).toBe("local");
    expect(await readFile(join(s.snapshot.storePath, "hosts", "web2.nix"), "utf8")).toContain('marker = "wip"');
    await fleet.git(["checkout", "--", "."]);
  });

  it("names an unknown ref, a missing release and an unreachable remote", async () => {
    await expect(prepareSource({ kind: "tag", tag: "v9.9.9" }, opts())).rejects.toBeInstanceOf(GitUnknownRefError);
    await expect(prepareSource({ kind: "branch", branch: "nope" }, opts())).rejects.toThrow(/nope/);
    const bare = await FleetRepo.create({ hosts: ["x1"] });
    try {
      await expect(prepareSource({ kind: "latest" }, { ...opts(), remote: bare.url, mirrorDir: join(dir, "m2.git") })).rejects.toBeInstanceOf(NoReleaseError);
    } finally {
      await bare.destroy();
    }
    await expect(prepareSource({ kind: "latest" }, { ...opts(), remote: join(dir, "does-not-exist"), mirrorDir: join(dir, "m3.git") })).rejects.toBeInstanceOf(GitRemoteUnreachableError);
    expect(() => specFromFlags({ tag: "v1", branch: "main" })).toThrow(/cannot be combined/);
  });
});
