import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildFullProgram } from "../../../src/cli/main.js";
import { loadFleet } from "../../../src/fleet/index.js";
import { releaseBump } from "../../../src/release/index.js";
import { IMPACT_WORKFLOW, initFleet, PUBLISH_WORKFLOW, RELEASE_WORKFLOW, UPDATE_WORKFLOW } from "../../../src/scaffold/index.js";
import { FleetRepo } from "../../harness/index.js";
import { workflowCommandProblems } from "../../unit/release/workflow-commands.js";
import { makeCli } from "./cli.js";
import { ENV, git } from "./repos.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fleetRepo(layout: "flake" | "classic" = "flake"): Promise<FleetRepo> {
  const repo = await FleetRepo.create({ layout, hosts: ["web1", "web2", "db1"], version: "1.4.0" });
  cleanups.push(() => repo.destroy());
  return repo;
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "oscd-init-"));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

describe("oscd init", () => {
  it("writes oscd.toml with the flake's hosts, keeps VERSION, and GitHub workflows that parse and call existing commands", async () => {
    const repo = await fleetRepo();
    const r = await initFleet({ dir: repo.dir, ci: "github", oscdVersion: "0.1.0" });
    expect(r).toMatchObject({ layout: "flake", hosts: ["db1", "web1", "web2"], skippedHosts: [] });
    expect(r.written).toEqual(["oscd.toml", RELEASE_WORKFLOW, PUBLISH_WORKFLOW, UPDATE_WORKFLOW, IMPACT_WORKFLOW]);
    expect(r.kept).toEqual(["VERSION"]);
    expect(await readFile(join(repo.dir, "VERSION"), "utf8")).toBe("1.4.0\n");

    const fleet = await loadFleet(repo.dir);
    expect(fleet.layout).toBe("flake");
    expect(Object.keys(fleet.config.hosts).sort()).toEqual(["db1", "web1", "web2"]);
    expect(fleet.config.release).toEqual({ branch: "main", versionFile: "VERSION", tagPrefix: "v", strategy: "sequential", labels: { major: "release:major", minor: "release:minor", patch: "release:patch" } });
    expect(fleet.config.channels).toEqual({ main: { operation: "switch" } });
    // Only keys oscd reads: no channel branch or operation, no fleet.remote.
    const written = await readFile(join(repo.dir, "oscd.toml"), "utf8");
    const channel = /^\[channels\.main\]\n([^[]*)/m.exec(written);
    expect(channel?.[1]?.split("\n").filter((l) => /^\s*\w+\s*=/.test(l))).toEqual([]);
    expect(written).not.toMatch(/^\s*#?\s*(remote|operation)\s*=/m);
    expect(r.next).toEqual([`git add oscd.toml VERSION ${RELEASE_WORKFLOW} ${PUBLISH_WORKFLOW} ${UPDATE_WORKFLOW} ${IMPACT_WORKFLOW} && git commit -m 'oscd init'`, "oscd publish --sign-key FILE", "oscd manifest show"]);

    const program = await buildFullProgram();
    for (const path of [RELEASE_WORKFLOW, PUBLISH_WORKFLOW, UPDATE_WORKFLOW, IMPACT_WORKFLOW]) {
      const text = await readFile(join(repo.dir, path), "utf8");
      const wf = parse(text) as { on: unknown; jobs: Record<string, unknown> };
      expect(Object.keys(wf.jobs).length, path).toBe(1);
      const { problems, checked } = workflowCommandProblems(program, text);
      expect(problems, path).toEqual([]);
      expect(checked.length, path).toBe(1);
    }
  });

  it("--dry-run writes nothing and says what it would write, with the same content", async () => {
    const repo = await fleetRepo();
    const before = await git(repo.dir, ["status", "--porcelain", "--untracked-files=all"]);
    const dry = await initFleet({ dir: repo.dir, ci: "github", oscdVersion: "0.1.0", dryRun: true });
    expect(await git(repo.dir, ["status", "--porcelain", "--untracked-files=all"])).toEqual(before);
    await expect(readFile(join(repo.dir, "oscd.toml"), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
    expect(dry.written).toEqual(["oscd.toml", RELEASE_WORKFLOW, PUBLISH_WORKFLOW, UPDATE_WORKFLOW, IMPACT_WORKFLOW]);
    const real = await initFleet({ dir: repo.dir, ci: "github", oscdVersion: "0.1.0" });
    expect(real.written).toEqual(dry.written);
    for (const f of dry.files ?? []) expect(await readFile(join(repo.dir, f.path), "utf8")).toBe(f.content);
    expect(dry.files?.map((f) => f.path)).toEqual(dry.written);
  });

  it("what init writes is enough to release: commit it and bump", async () => {
    const repo = await fleetRepo();
    await initFleet({ dir: repo.dir, ci: "github", oscdVersion: "0.1.0" });
    await git(repo.dir, ["add", "-A"]);
    await git(repo.dir, ["commit", "-q", "-m", "oscd init"]);
    const res = await releaseBump({ repoDir: repo.dir, levels: ["minor"], env: ENV });
    expect(res.releases.map((x) => x.tag)).toEqual(["v1.5.0"]);
  });

  it("keeps files that exist unless --force, and follows an existing oscd.toml's release settings", async () => {
    const repo = await fleetRepo();
    await writeFile(join(repo.dir, "oscd.toml"), '[release]\nbranch = "production"\ntagPrefix = "fleet-"\nversionFile = "RELEASE"\n');
    const r = await initFleet({ dir: repo.dir, ci: "github", oscdVersion: "0.1.0" });
    expect(r.kept).toEqual(["oscd.toml"]);
    expect(r.written).toEqual(["RELEASE", RELEASE_WORKFLOW, PUBLISH_WORKFLOW, UPDATE_WORKFLOW, IMPACT_WORKFLOW]);
    expect(await readFile(join(repo.dir, "RELEASE"), "utf8")).toBe("0.1.0\n");
    const rel = parse(await readFile(join(repo.dir, RELEASE_WORKFLOW), "utf8")) as { on: { pull_request_target: { branches: string[] } } };
    expect(rel.on.pull_request_target.branches).toEqual(["production"]);
    const pub = parse(await readFile(join(repo.dir, PUBLISH_WORKFLOW), "utf8")) as { on: { push: { branches: string[]; tags: string[] } } };
    expect(pub.on.push).toEqual({ branches: ["production"], tags: ["fleet-*"] });

    await writeFile(join(repo.dir, RELEASE_WORKFLOW), "# mine\n");
    const again = await initFleet({ dir: repo.dir, ci: "github", oscdVersion: "0.1.0" });
    expect(again.written).toEqual([]);
    expect(again.kept).toEqual(["oscd.toml", "RELEASE", RELEASE_WORKFLOW, PUBLISH_WORKFLOW, UPDATE_WORKFLOW, IMPACT_WORKFLOW]);
    expect(await readFile(join(repo.dir, RELEASE_WORKFLOW), "utf8")).toBe("# mine\n");

    const forced = await initFleet({ dir: repo.dir, ci: "github", force: true, branch: "main", oscdVersion: "0.1.0" });
    expect(forced.written).toEqual(["oscd.toml", RELEASE_WORKFLOW, PUBLISH_WORKFLOW, UPDATE_WORKFLOW, IMPACT_WORKFLOW]);
    expect(forced.kept).toEqual(["VERSION"]); // the version file is never overwritten
    expect((await loadFleet(repo.dir)).config.release.branch).toBe("main");
  });

  it("a release branch with a slash: the channel gets a name publish accepts, and the workflow publishes it", async () => {
    const repo = await fleetRepo();
    await initFleet({ dir: repo.dir, ci: "github", branch: "release/1.x", oscdVersion: "0.1.0" });
    const fleet = await loadFleet(repo.dir);
    expect(fleet.config.channels).toEqual({ "release-1-x": { operation: "switch" } });
    const program = await buildFullProgram();
    const { problems, checked } = workflowCommandProblems(program, await readFile(join(repo.dir, PUBLISH_WORKFLOW), "utf8"));
    expect(problems).toEqual([]);
    expect(checked.map((c) => c.argv.join(" "))).toEqual(['oscd publish --ref $GITHUB_REF --channel release-1-x']);
  });

  it("classic layout: no discovery, hosts listed by hand; no --ci: no workflows", async () => {
    const repo = await fleetRepo("classic");
    const r = await initFleet({ dir: repo.dir, oscdVersion: "0.1.0" });
    expect(r).toMatchObject({ layout: "classic", hosts: [], written: ["oscd.toml"], kept: ["VERSION"] });
    expect((await loadFleet(repo.dir)).layout).toBe("classic");
  });

  it("a directory that is not a git repository yet: release branch main, VERSION 0.1.0", async () => {
    const dir = await tempDir();
    const r = await initFleet({ dir, ci: "github", oscdVersion: "0.1.0" });
    expect(r.written).toEqual(["oscd.toml", "VERSION", RELEASE_WORKFLOW, PUBLISH_WORKFLOW, UPDATE_WORKFLOW, IMPACT_WORKFLOW]);
    expect((await loadFleet(dir)).config.release.branch).toBe("main");
    expect(await readFile(join(dir, "VERSION"), "utf8")).toBe("0.1.0\n");
  });

  it("a flake that does not evaluate: one error line with the cause and --no-discover as the way out", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "flake.nix"), "{ outputs = { self }: { nixosConfigurations = throw \"broken on purpose\"; }; }\n");
    await expect(initFleet({ dir, oscdVersion: "0.1.0" })).rejects.toMatchObject({ code: "init-discovery-failed", exitCode: 2 });
    const r = await initFleet({ dir, discover: false, oscdVersion: "0.1.0" });
    expect(r).toMatchObject({ layout: "flake", hosts: [] });
  });

  it("oscd init --ci github --json on the command line", async () => {
    const repo = await fleetRepo();
    const oscd = await makeCli(await tempDir());
    const dry = await oscd(["init", "--ci", "github", "--dry-run", "--no-discover"], { cwd: repo.dir });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^dry run of oscd init: nothing was changed\n/);
    expect(dry.stdout).toMatch(/^ +write +oscd\.toml +- +\d+ lines$/m);
    expect(dry.stdout).toMatch(/^ +keep +VERSION +- /m);
    const dryJson = JSON.parse((await oscd(["init", "--ci", "github", "--dry-run", "--json", "--no-discover"], { cwd: repo.dir })).stdout) as { dryRun: boolean; files: { path: string; content: string }[] };
    expect(dryJson.dryRun).toBe(true);
    expect(dryJson.files.map((f) => f.path)).toEqual(["oscd.toml", RELEASE_WORKFLOW, PUBLISH_WORKFLOW, UPDATE_WORKFLOW, IMPACT_WORKFLOW]);
    await expect(readFile(join(repo.dir, "oscd.toml"), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
    const r = await oscd(["init", "--ci", "github", "--json", "--no-discover"], { cwd: repo.dir });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ written: ["oscd.toml", RELEASE_WORKFLOW, PUBLISH_WORKFLOW, UPDATE_WORKFLOW, IMPACT_WORKFLOW], kept: ["VERSION"] });
    const bad = await oscd(["init", "--ci", "gitlab"], { cwd: repo.dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/argument 'gitlab' is invalid/);
    const text = await readFile(join(repo.dir, RELEASE_WORKFLOW), "utf8");
    const version = (JSON.parse(await readFile(join(import.meta.dirname, "..", "..", "..", "package.json"), "utf8")) as { version: string }).version;
    expect(text).toContain(`npm install --global "oscd@${version}"`);
  });

  it("oscd init --sign-key --cache: caches and [keys] trusted written, the next three commands printed, and publish needs nothing more", async () => {
    const repo = await fleetRepo();
    const dir = await tempDir();
    const oscd = await makeCli(dir);
    const gen = await oscd(["keys", "generate", "fleet-9"], { cwd: dir });
    expect(gen.exitCode, gen.stderr).toBe(0);
    const pub = (await readFile(join(dir, "fleet-9.public"), "utf8")).trim();
    const secret = join(dir, "fleet-9.secret");
    const r = await oscd(["init", "--sign-key", secret, "--cache", "file:///srv/nix-cache", "--no-discover"], { cwd: repo.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const fleet = await loadFleet(repo.dir);
    expect(fleet.config.caches).toEqual(["file:///srv/nix-cache"]);
    expect(fleet.config.keys.trusted).toEqual([pub]);
    expect(r.stdout).toContain("trusted keys: fleet-9\n");
    expect(r.stdout).toContain(`next:\n  git add oscd.toml VERSION && git commit -m 'oscd init'\n  oscd publish --sign-key ${secret}\n  oscd manifest verify /srv/nix-cache/channels/main.json --trusted-key ${join(dir, "fleet-9.public")}\n`);
    // The secret key is read, never written anywhere.
    expect(await readFile(join(repo.dir, "oscd.toml"), "utf8")).not.toContain((await readFile(secret, "utf8")).trim().split(":")[1]);

    // The public key alone does the same; an existing oscd.toml is kept and says what was not written.
    const again = await oscd(["init", "--trusted-key", join(dir, "fleet-9.public"), "--cache", "https://cache.example.org", "--no-discover"], { cwd: repo.dir });
    expect(again.stdout).toContain("kept oscd.toml (exists, so --cache and the trusted key not written; --force rewrites it)\n");
    const forced = await oscd(["init", "--force", "--trusted-key", pub, "--cache", "https://cache.example.org", "--no-discover", "--json"], { cwd: repo.dir });
    expect(JSON.parse(forced.stdout)).toMatchObject({ caches: ["https://cache.example.org"], trusted: [pub], next: ["git add oscd.toml VERSION && git commit -m 'oscd init'", "oscd publish --sign-key FILE", `oscd manifest verify https://cache.example.org/channels/main.json --trusted-key ${pub}`] });
    // A key given inline where a file belongs is refused, and nothing is written.
    const inline = await oscd(["init", "--force", "--sign-key", (await readFile(secret, "utf8")).trim(), "--no-discover"], { cwd: repo.dir });
    expect(inline.exitCode).toBe(2);
    expect(inline.stderr).toMatch(/^oscd: error\[key-inline\]/);
  });

  it("oscd init --force says the version file is kept because it is never overwritten, not that --force would", async () => {
    const repo = await fleetRepo();
    const oscd = await makeCli(await tempDir());
    await writeFile(join(repo.dir, "oscd.toml"), "[fleet]\nname = \"mine\"\n");
    const kept = await oscd(["init", "--no-discover"], { cwd: repo.dir });
    expect(kept.exitCode, kept.stderr).toBe(0);
    expect(kept.stdout).toContain("kept oscd.toml (exists; --force overwrites it)\n");
    expect(kept.stdout).toContain("kept VERSION (exists; a version file is never overwritten)\n");
    const forced = await oscd(["init", "--force", "--no-discover"], { cwd: repo.dir });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(forced.stdout).toContain("wrote oscd.toml\n");
    expect(forced.stdout).toContain("kept VERSION (exists; a version file is never overwritten)\n");
    expect(forced.stdout).not.toContain("--force overwrites");
    expect(await readFile(join(repo.dir, "VERSION"), "utf8")).toBe("1.4.0\n");
    const json = await oscd(["init", "--force", "--no-discover", "--json"], { cwd: repo.dir });
    expect(JSON.parse(json.stdout)).toMatchObject({ kept: ["VERSION"], keptReasons: { VERSION: "exists; a version file is never overwritten" } });
  });
});
