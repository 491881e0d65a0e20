import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetRepo, SimHost, oscdOn, must } from "../harness/index.js";
import { machineHost, releasedFleet, toplevelAt as toplevelOf, upgradeOn, wholeGeneration } from "./upgrade-helpers.js";

let fleet: FleetRepo;
let v100: string;
let v110: string;
let testing: string;
const hosts: SimHost[] = [];

const toplevelAt = (commit: string, host = "web1") => toplevelOf(fleet, commit, host);

async function newHost(name = "web1", extra = ""): Promise<SimHost> {
  const h = await machineHost(name, fleet, extra);
  hosts.push(h);
  return h;
}

beforeAll(async () => {
  ({ fleet, v100, v110, testing } = await releasedFleet());
});
afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await fleet?.destroy();
});

describe("oscd upgrade", () => {
  it("upgrades to the newest release tag with no arguments, linking the exact source", async () => {
    const h = await newHost();
    const r = await upgradeOn(h, []);
    expect(r.stderr).toMatch(/│ source +the newest release/);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/version: \(nothing oscd installed\) → 1\.1\.0/);
    const want = await toplevelAt(v110);
    expect(await wholeGeneration(h)).toEqual({ toplevel: want, consistent: true, journalOpen: false, locked: false });
    // The source link is a read-only snapshot of exactly that commit.
    const src = await h.readLink("/var/lib/oscd/source");
    expect(src).toMatch(/^\/nix\/store\/.*-oscd-source-/);
    const archived = (await must("git", ["-C", fleet.dir, "ls-tree", "-r", "--name-only", v110])).stdout.trim().split("\n").sort();
    const snap = h.path(src!);
    const listed = (await must("find", [snap, "-type", "f", "-printf", "%P\\n"])).stdout.trim().split("\n").sort();
    expect(listed).toEqual(archived);
    expect(await readFile(join(snap, "VERSION"), "utf8")).toBe("1.1.0\n");
    const gens = JSON.parse((await oscdOn(h, ["generations", "--json"])).stdout) as { generation: number; version: string; commit: string; ref: string; sourcePath: string; current: boolean }[];
    expect(gens).toEqual([expect.objectContaining({ generation: 1, version: "1.1.0", commit: v110, ref: "v1.1.0", sourcePath: src, current: true })]);
    // The source is kept alive by a GC root with its generation.
    expect(await h.readLink("/nix/var/nix/gcroots/oscd/generation-1-source")).toBe(src);
  });

  it("upgrades to a tag, a branch and a commit, each linked to its own commit, and prints the changes", async () => {
    const h = await newHost();
    expect((await upgradeOn(h, ["--tag", "v1.0.0"])).exitCode).toBe(0);
    expect(await h.currentSystem()).toBe(await toplevelAt(v100));
    const toBranch = await upgradeOn(h, ["--branch", "testing"]);
    expect(toBranch.exitCode).toBe(0);
    expect(toBranch.stdout).toMatch(/version: 1\.0\.0 \(.{12}\) → 1\.1\.0 \(.{12}, testing\)/);
    expect(toBranch.stdout).toMatch(/changes \(3\):\n.*web1: experiment\n.*Release 1\.1\.0\n.*web2: tuning/);
    expect(await h.currentSystem()).toBe(await toplevelAt(testing));
    expect((await upgradeOn(h, ["--commit", v110.slice(0, 12)])).exitCode).toBe(0);
    expect(await h.currentSystem()).toBe(await toplevelAt(v110));
    const gens = JSON.parse((await oscdOn(h, ["generations", "--json"])).stdout) as { commit: string; ref: string; sourcePath: string }[];
    expect(gens.map((g) => [g.commit, g.ref])).toEqual([
      [v100, "v1.0.0"],
      [testing, "testing"],
      [v110, v110],
    ]);
    for (const g of gens) {
      const want = (await must("git", ["-C", fleet.dir, "show", `${g.commit}:hosts/web1.nix`])).stdout;
      expect(await readFile(h.path(join(g.sourcePath, "hosts/web1.nix")), "utf8")).toBe(want);
    }
  });

  it("upgrades from a local tree with its uncommitted changes", async () => {
    const h = await newHost();
    const file = join(fleet.dir, "hosts", "web1.nix");
    const before = await readFile(file, "utf8");
    await must("sed", ["-i", 's/marker = "[^"]*";/marker = "uncommitted";/', file]);
    try {
      const r = await upgradeOn(h, ["--local", fleet.dir]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/with uncommitted changes/);
      expect(await readFile(h.path(`${await h.currentSystem()}/fake-config`), "utf8")).toContain("marker=uncommitted");
    } finally {
      await must("git", ["-C", fleet.dir, "checkout", "--", "hosts/web1.nix"]);
    }
    expect(await readFile(file, "utf8")).toBe(before);
  });

  it("--boot writes the boot entry and leaves /run/current-system; --test the reverse", async () => {
    const h = await newHost();
    await upgradeOn(h, ["--tag", "v1.0.0"]);
    const old = await h.currentSystem();
    const boot = await upgradeOn(h, ["--boot"]);
    expect(boot.exitCode).toBe(0);
    const next = await toplevelAt(v110);
    expect(await h.currentSystem()).toBe(old);
    expect(await h.defaultBootToplevel()).toBe(next);
    await h.reboot();
    expect(await h.bootedSystem()).toBe(next);

    const h2 = await newHost();
    await upgradeOn(h2, ["--tag", "v1.0.0"]);
    const entries = await h2.bootEntries();
    const t = await upgradeOn(h2, ["--test", "--branch", "testing"]);
    expect(t.exitCode).toBe(0);
    expect(await h2.currentSystem()).toBe(await toplevelAt(testing));
    expect(await h2.defaultBootToplevel()).toBe(await toplevelAt(v100));
    expect(await h2.bootEntries()).toEqual(entries);
    const gens = JSON.parse((await oscdOn(h2, ["generations", "--json"])).stdout) as unknown[];
    expect(gens).toHaveLength(1);
  });

  it("refuses a downgrade unless asked, and a second concurrent upgrade", async () => {
    const h = await newHost("web1", 'health = { commands = [["sleep", "4"]] }\n');
    expect((await upgradeOn(h, [])).exitCode).toBe(0);
    const r = await upgradeOn(h, ["--tag", "v1.0.0"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/oscd: error\[downgrade\]: version 1\.0\.0 is older than the running 1\.1\.0/);
    expect(await h.currentSystem()).toBe(await toplevelAt(v110));

    const first = upgradeOn(h, ["--tag", "v1.0.0", "--allow-downgrade"]);
    for (let i = 0; i < 100 && !(await readdir(h.path("/var/lib/oscd"))).includes("lock"); i++) await new Promise((res) => setTimeout(res, 100));
    const second = await upgradeOn(h, ["--branch", "testing"]);
    expect(second.exitCode).toBe(3);
    expect(second.stderr).toMatch(/error\[busy\]: another oscd deployment is running on this host/);
    expect((await first).exitCode).toBe(0);
    expect(await h.currentSystem()).toBe(await toplevelAt(v100));
  });

  it("fails cleanly, changing nothing, on an unknown tag, an unreachable remote and an evaluation error", async () => {
    const h = await newHost();
    await upgradeOn(h, ["--tag", "v1.0.0"]);
    const before = await wholeGeneration(h);
    const source = await h.readLink("/var/lib/oscd/source");
    const unknown = await upgradeOn(h, ["--tag", "v9.9.9"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/v9\.9\.9/);
    const unreachable = await oscdOn(h, ["upgrade", "--remote", "/nonexistent/fleet"]);
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.stderr).toMatch(/error\[git-remote-unreachable\]/);
    const broken = await fleet.commitFile("hosts/web1.nix", "{ hostname = ", "break web1");
    await fleet.branch("broken");
    await fleet.git(["reset", "-q", "--hard", v110]);
    const evalErr = await upgradeOn(h, ["--branch", "broken"]);
    expect(evalErr.exitCode).toBe(1);
    expect(evalErr.stderr).toMatch(/error\[nix-eval-failed\]/);
    expect(broken).toMatch(/^[0-9a-f]{40}$/);
    await fleet.git(["checkout", "-q", "-b", "build-fails", v110]);
    await fleet.setHost({ name: "web1", failBuild: true }, "web1: a package that does not build");
    await fleet.git(["checkout", "-q", "main"]);
    const buildErr = await upgradeOn(h, ["--branch", "build-fails"]);
    expect(buildErr.exitCode).toBe(1);
    expect(buildErr.stderr).toMatch(/error\[nix-build-failed\]: building web1 failed: /);
    expect(await wholeGeneration(h)).toEqual(before);
    expect(await h.readLink("/var/lib/oscd/source")).toBe(source);
    expect(JSON.parse((await oscdOn(h, ["generations", "--json"])).stdout)).toHaveLength(1);
  });
});
