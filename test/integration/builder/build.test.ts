import { readFile, readlink, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHosts, builderSystems, buildRootName, evaluationExpr, pinFleet, type HostBuild } from "../../../src/builder/index.js";
import { FleetRepo, GIT_ENV, must, tempDir, uniqueMarker } from "../../harness/index.js";
import { setWarningSink } from "../../../src/core/warnings.js";
import { breakBuild, json, oscd } from "./helpers.js";

let dir: string;
const rootDir = "/nix/var/nix/gcroots/oscd-tests-build";
const repos: FleetRepo[] = [];

beforeAll(async () => {
  dir = await tempDir("build");
});
afterAll(async () => {
  for (const r of repos) await r.destroy();
  await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

async function fleet(opts: Parameters<typeof FleetRepo.create>[0] = {}): Promise<FleetRepo> {
  const m = uniqueMarker();
  const hosts = (opts.hosts ?? ["web1", "web2", "db1"]).map((h) => (typeof h === "string" ? { name: h, marker: m } : { marker: m, ...h }));
  const r = await FleetRepo.create({ ...opts, hosts });
  repos.push(r);
  return r;
}

const pin = (repo: FleetRepo, ref?: string) => pinFleet({ repo: repo.dir, ref, stateDir: join(dir, "state"), rootDir });
const byName = (hosts: HostBuild[]) => Object.fromEntries(hosts.map((h) => [h.name, h]));

describe("pinning the fleet repository", () => {
  it("builds HEAD of a checkout by default, named by its branch, without uncommitted changes", async () => {
    const repo = await fleet();
    const head = await repo.head();
    await writeFile(join(repo.dir, "hosts", "web1.nix"), (await readFile(join(repo.dir, "hosts", "web1.nix"), "utf8")).replace(/marker = "[^"]*"/, 'marker = "uncommitted"'));
    const p = await pin(repo);
    expect(p.source).toMatchObject({ commit: head, ref: "main", version: "1.0.0" });
    expect(p.uncommittedChanges).toBe(true);
    expect(await readFile(join(p.source.snapshot.storePath, "hosts", "web1.nix"), "utf8")).not.toContain("uncommitted");
    expect(p.nixSource).toEqual({ kind: "flake", flakeRef: p.source.snapshot.flakeRef });
    await repo.git(["checkout", "--", "."]);
    // A detached HEAD on no branch is pinned too (CI checkouts).
    await repo.git(["checkout", "-q", "--detach"]);
    const detachedHead = await repo.commitHostChange("db1", "detached");
    const d = await pin(repo);
    expect(d.source).toMatchObject({ commit: detachedHead, ref: detachedHead });
  });

  it("warns when oscd.toml or the flake files differ from the commit built (uncommitted changes are not built)", async () => {
    const repo = await fleet();
    const head = await repo.head();
    const warnings: string[] = [];
    setWarningSink((m) => warnings.push(m));
    try {
      // Another file changed: the generic uncommitted flag, no fleet-file warning.
      await writeFile(join(repo.dir, "hosts", "web1.nix"), (await readFile(join(repo.dir, "hosts", "web1.nix"), "utf8")) + "\n");
      expect((await pin(repo)).uncommittedFleetFiles).toEqual([]);
      expect(warnings).toEqual([]);
      // oscd.toml written and not committed (oscd init's file), and flake.nix edited.
      await writeFile(join(repo.dir, "oscd.toml"), 'caches = ["file:///srv/nix-cache"]\n');
      await writeFile(join(repo.dir, "flake.nix"), (await readFile(join(repo.dir, "flake.nix"), "utf8")) + "\n# edited\n");
      const p = await pin(repo);
      expect([...p.uncommittedFleetFiles].sort()).toEqual(["flake.nix", "oscd.toml"]);
      expect(p.fleet.config.caches).toEqual([]); // read from the commit, not the working tree
      expect(warnings).toEqual([`${p.uncommittedFleetFiles.join(", ")} in ${repo.dir} differ from commit ${head.slice(0, 12)}: uncommitted changes are not built (oscd reads the fleet from the commit); commit them first`]);
      // With --ref the user named the commit: no comparison with the working tree.
      warnings.length = 0;
      expect((await pin(repo, "main")).uncommittedFleetFiles).toEqual([]);
      expect(warnings).toEqual([]);
    } finally {
      setWarningSink((m) => process.stderr.write(`oscd: warning: ${m}\n`));
      await repo.git(["checkout", "--", "."]);
      await rm(join(repo.dir, "oscd.toml"), { force: true });
    }
  });

  it("takes --ref as a tag first, then a branch, then a commit", async () => {
    const repo = await fleet();
    const v1 = await repo.release("1.1.0");
    const later = await repo.commitHostChange("web1", "later");
    await repo.branch("v1.1.0"); // a branch named like the tag: the tag wins
    expect((await pin(repo, "v1.1.0")).source).toMatchObject({ commit: v1, tag: "v1.1.0", ref: "v1.1.0", version: "1.1.0" });
    expect((await pin(repo, "main")).source).toMatchObject({ commit: later, ref: "main" });
    expect((await pin(repo, v1.slice(0, 10))).source).toMatchObject({ commit: v1 });
    // Full ref names, as CI passes $GITHUB_REF.
    expect((await pin(repo, "refs/tags/v1.1.0")).source).toMatchObject({ commit: v1, tag: "v1.1.0", ref: "v1.1.0" });
    expect((await pin(repo, "refs/heads/v1.1.0")).source).toMatchObject({ commit: later, ref: "v1.1.0" });
    expect((await pin(repo, "refs/heads/main")).source).toMatchObject({ commit: later, ref: "main" });
    await expect(pin(repo, "no-such-thing")).rejects.toMatchObject({ code: "unknown-ref", exitCode: 2 });
    await expect(pinFleet({ repo: "https://git.example.invalid/fleet.git", stateDir: join(dir, "state") })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/--ref/) });
    await expect(pinFleet({ repo: join(dir, "nope"), stateDir: join(dir, "state") })).rejects.toMatchObject({ exitCode: 2 });
  });
});

/**
 * A flake fleet whose hosts read `marker` from an input `pkgs`: a git repository with two
 * commits, of which the fleet's lock file pins the first. Returns the second's reference.
 */
async function fleetWithInput(): Promise<{ repo: FleetRepo; other: string }> {
  const pkgs = join(dir, `pkgs-${uniqueMarker()}`);
  const g = async (args: string[]) => (await must("git", ["-C", pkgs, ...args], { env: GIT_ENV })).stdout.trim();
  await must("mkdir", ["-p", pkgs]);
  await g(["init", "-q", "-b", "main"]);
  await writeFile(join(pkgs, "flake.nix"), `{ outputs = { self }: { marker = "pkgs-A-${uniqueMarker()}"; }; }\n`);
  await g(["add", "-A"]);
  await g(["commit", "-q", "-m", "A"]);
  await writeFile(join(pkgs, "flake.nix"), `{ outputs = { self }: { marker = "pkgs-B-${uniqueMarker()}"; }; }\n`);
  await g(["commit", "-q", "-am", "B"]);
  const b = await g(["rev-parse", "HEAD"]);
  await g(["reset", "-q", "--hard", "HEAD~1"]);
  const repo = await fleet({ hosts: ["web1", "web2"] });
  const mk = (h: string) => `${h}.config.system.build.toplevel = import ./lib/fake-toplevel.nix ((import ./hosts/${h}.nix) // { version = "1.0.0"; marker = pkgs.marker; });`;
  await writeFile(join(repo.dir, "flake.nix"), `{\n  inputs.pkgs.url = "git+file://${pkgs}";\n  outputs = { self, pkgs }: { nixosConfigurations = { ${mk("web1")} ${mk("web2")} }; };\n}\n`);
  await must("nix", ["flake", "lock", repo.dir], { timeoutMs: 120_000 });
  await repo.git(["add", "-A"]);
  await repo.git(["commit", "-q", "-m", "Use the pkgs input"]);
  return { repo, other: `git+file://${pkgs}?rev=${b}` };
}

const markerOf = async (toplevel: string | undefined) => /marker=(\S+)/.exec(await readFile(join(toplevel ?? "/nonexistent", "fake-config"), "utf8"))?.[1];

describe("--override-input", () => {
  it("evaluates every host with the flake input replaced and builds that", async () => {
    const { repo, other } = await fleetWithInput();
    const p = await pin(repo);
    const pinned = byName((await buildHosts(p, { rootDir })).hosts);
    expect(await markerOf(pinned.web1?.toplevel)).toMatch(/^pkgs-A-/);
    const r = await buildHosts(p, { rootDir, overrideInputs: { pkgs: other } });
    expect(r.overrideInputs).toEqual({ pkgs: other });
    const h = byName(r.hosts);
    for (const name of ["web1", "web2"]) {
      expect(h[name]?.status).toBe("built");
      expect(h[name]?.toplevel).not.toBe(pinned[name]?.toplevel);
      expect(await markerOf(h[name]?.toplevel)).toMatch(/^pkgs-B-/);
    }
    // Nix only warns about an input the flake does not have, and builds with the pinned one.
    await expect(buildHosts(p, { rootDir, evalOnly: true, overrideInputs: { nosuchinput: other } })).rejects.toMatchObject({ code: "override-unknown-input", exitCode: 2 });
    await expect(buildHosts(p, { rootDir, evalOnly: true, overrideInputs: { "pkgs/nosuchinput": other } })).rejects.toMatchObject({ code: "override-unknown-input", exitCode: 2 });
  });

  it("refuses a classic fleet and input names or references Nix would read as options, before evaluating", async () => {
    const classic = await fleet({ layout: "classic", hosts: ["web1"] });
    await expect(buildHosts(await pin(classic), { rootDir, overrideInputs: { pkgs: "path:/tmp" } })).rejects.toMatchObject({ code: "override-needs-pins", exitCode: 2 });
    // With a pin file, but a fleet file that takes no oscdPins: the override would be ignored.
    await classic.commitFile("pins.json", JSON.stringify({ pkgs: { url: "file:///nonexistent", rev: "a".repeat(40) } }));
    await expect(buildHosts(await pin(classic), { rootDir, overrideInputs: { pkgs: "b".repeat(40) } })).rejects.toMatchObject({ code: "override-needs-pins", message: expect.stringContaining("takes no oscdPins") });
    const flake = await pin(await fleet({ hosts: ["web1"] }));
    await expect(buildHosts(flake, { rootDir, overrideInputs: { "--impure": "path:/tmp" } })).rejects.toMatchObject({ code: "usage", exitCode: 2 });
    await expect(buildHosts(flake, { rootDir, overrideInputs: { pkgs: "--option" } })).rejects.toMatchObject({ code: "usage", exitCode: 2 });
  });

  it("oscd build --override-input NAME=REF builds with it and says so in --json; NAME alone is a usage error", async () => {
    const { repo, other } = await fleetWithInput();
    const state = join(dir, "cli-override-state");
    const r = await oscd(["build", "--repo", repo.dir, "--state-dir", state, "--roots-dir", rootDir, "--on", "web1", "--override-input", `pkgs=${other}`, "--json"]);
    const out = json<{ overrideInputs: Record<string, string>; hosts: { name: string; status: string; toplevel: string }[] }>(r);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(out.overrideInputs).toEqual({ pkgs: other });
    expect(out.hosts).toMatchObject([{ name: "web1", status: "built" }]);
    expect(await markerOf(out.hosts[0]?.toplevel)).toMatch(/^pkgs-B-/);
    const bad = await oscd(["build", "--repo", repo.dir, "--state-dir", state, "--override-input", "pkgs"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^oscd: error\[usage\]: --override-input "pkgs" is not NAME=REF\nhint: /);
  });
});

describe("building", () => {
  it("evaluates all hosts in one expression, builds them, roots the results and measures closures", async () => {
    const repo = await fleet();
    const p = await pin(repo);
    const events: string[] = [];
    const r = await buildHosts(p, { rootDir, onProgress: (e) => events.push(`${e.step}:${e.state}:${"host" in e ? e.host : ""}`) });
    expect(r.commit).toBe(await repo.head());
    const h = byName(r.hosts);
    for (const name of ["web1", "web2", "db1"]) {
      expect(h[name]?.status).toBe("built");
      expect(h[name]?.toplevel).toMatch(new RegExp(`^/nix/store/[a-z0-9]{32}-nixos-system-${name}-1.0.0$`));
      expect(h[name]?.system).toBe("x86_64-linux");
      expect(h[name]?.closureSize).toBeGreaterThan(0);
      expect(await readlink(join(rootDir, buildRootName("fleet", name)))).toBe(h[name]?.toplevel);
      expect(events).toContain(`build:built:${name}`);
    }
    expect(events[0]).toBe("evaluate:start:");
    expect(events.filter((e) => e.startsWith("evaluate:done")).length).toBe(3);
    // Built again: everything is already present, nothing is rebuilt.
    const again = await buildHosts(p, { rootDir });
    expect(again.hosts.map((x) => [x.status, x.timeMs])).toEqual([
      ["present", 0],
      ["present", 0],
      ["present", 0],
    ]);
    expect(again.hosts.map((x) => x.toplevel)).toEqual(r.hosts.map((x) => x.toplevel));
  });

  it("builds the hosts an --on selection names, and only those", async () => {
    const repo = await fleet({ hosts: ["web1", "web2", "db1"] });
    await repo.commitFile("oscd.toml", '[hosts.db1]\ntags = ["database"]\n');
    const r = await buildHosts(await pin(repo), { rootDir, selection: "web2,@database" });
    expect(r.hosts.map((h) => h.name)).toEqual(["db1", "web2"]);
    await expect(buildHosts(await pin(repo), { rootDir, selection: "nope*" })).rejects.toMatchObject({ code: "no-such-host", exitCode: 2 });
  });

  it("builds the other hosts when one fails to evaluate, and names the failing host with Nix's error", async () => {
    const repo = await fleet();
    await repo.commitFile("hosts/web2.nix", '{ hostname = throw "web2 is broken on purpose"; marker = ""; }\n');
    const r = await buildHosts(await pin(repo), { rootDir });
    const h = byName(r.hosts);
    expect(h.web2).toMatchObject({ status: "failed", failedStep: "evaluate" });
    expect(h.web2?.error?.message).toMatch(/web2 is broken on purpose/);
    expect(h.web2?.toplevel).toBeUndefined();
    expect(h.web1?.status).toBe("built");
    expect(h.db1?.status).toBe("built");
  });

  it("names a host whose build fails, and still builds the others", async () => {
    const repo = await fleet();
    await breakBuild(repo, "db1");
    const r = await buildHosts(await pin(repo), { rootDir });
    const h = byName(r.hosts);
    expect(h.db1).toMatchObject({ status: "failed", failedStep: "build" });
    expect(h.db1?.error?.message).toMatch(/building db1 failed: builder for '\/nix\/store\/.*-nixos-system-db1-broken.drv' failed/);
    expect(h.web1?.status).toBe("built");
    expect(h.web2?.status).toBe("built");
  });

  it("passes each host's system to evaluation, records it, and does not try to build what this machine cannot", async () => {
    const repo = await fleet({ hosts: ["web1", { name: "pi", system: "aarch64-linux" }] });
    await repo.commitFile("oscd.toml", '[hosts.pi]\nsystem = "aarch64-linux"\n');
    const p = await pin(repo);
    const evalOnly = byName((await buildHosts(p, { rootDir, evalOnly: true })).hosts);
    expect(evalOnly.pi).toMatchObject({ status: "evaluated", system: "aarch64-linux" });
    expect(evalOnly.web1).toMatchObject({ status: "evaluated", system: "x86_64-linux" });
    const built = byName((await buildHosts(p, { rootDir })).hosts);
    expect(built.web1?.status).toBe("built");
    expect(built.pi).toMatchObject({ status: "failed", failedStep: "build", system: "aarch64-linux" });
    expect(built.pi?.error?.code).toBe("build-platform");
    expect(built.pi?.error?.hint).toMatch(/--builders/);
  });

  it("refuses a host whose toplevel is for another system than oscd.toml declares", async () => {
    const repo = await fleet({ hosts: ["web1", "web2"] });
    await repo.commitFile("oscd.toml", '[hosts.web1]\nsystem = "aarch64-linux"\n');
    const h = byName((await buildHosts(await pin(repo), { rootDir, evalOnly: true })).hosts);
    expect(h.web1?.error?.message).toMatch(/web1 declares system aarch64-linux in oscd.toml, but its toplevel evaluates for x86_64-linux/);
    expect(h.web2?.status).toBe("evaluated");
  });

  it("calls a classic fleet file with each host's system", async () => {
    const repo = await fleet({ layout: "classic", hosts: ["x86"] });
    await repo.commitFile(
      "default.nix",
      '{ system ? "x86_64-linux" }: { hosts = { x86 = import ./lib/fake-toplevel.nix { hostname = "x86"; inherit system; }; pi = import ./lib/fake-toplevel.nix { hostname = "pi"; inherit system; }; }; }\n',
    );
    await repo.commitFile("oscd.toml", '[fleet]\nattribute = "hosts.{host}"\n[hosts.x86]\n[hosts.pi]\nsystem = "aarch64-linux"\n');
    const p = await pin(repo);
    expect(p.nixSource).toEqual({ kind: "file", file: join(p.source.snapshot.storePath, "default.nix") });
    const h = byName((await buildHosts(p, { rootDir, evalOnly: true })).hosts);
    expect(h.pi).toMatchObject({ status: "evaluated", system: "aarch64-linux" });
    expect(h.x86).toMatchObject({ status: "evaluated", system: "x86_64-linux" });
    expect(evaluationExpr(p.nixSource, [{ attribute: "hosts.pi", system: "aarch64-linux" }])).toMatch(/builtins.functionArgs f/);
  });

  it("reads remote builders' systems from --builders and machines files", async () => {
    const machines = join(dir, "machines");
    await writeFile(machines, "# builders\nssh://pi aarch64-linux,armv7l-linux /key 4\nssh://big - /key\n");
    expect(await builderSystems(`ssh://mac x86_64-darwin; @${machines}`, "x86_64-linux")).toEqual(["x86_64-darwin", "aarch64-linux", "armv7l-linux", "x86_64-linux"]);
    expect(await builderSystems(`@${join(dir, "no-machines")}`, "x86_64-linux")).toEqual([]);
    expect(await builderSystems("", "x86_64-linux")).toEqual([]);
  });
});

describe("oscd build", () => {
  it("prints a table per host, a JSON summary, and exits 1 naming a failing host", async () => {
    const repo = await fleet();
    const state = join(dir, "cli-state");
    const table = await oscd(["build", "--repo", repo.dir, "--state-dir", state, "--roots-dir", rootDir]);
    expect(table.exitCode).toBe(0);
    expect(table.stdout).toMatch(/^HOST\s+SYSTEM\s+STATUS\s+CLOSURE\s+TIME\s+TOPLEVEL\n/);
    expect(table.stdout).toMatch(/\nweb1\s+x86_64-linux\s+built\s+[\d.]+ KiB\s+\S+\s+\/nix\/store\//);
    expect(table.stderr).toMatch(/oscd +│ evaluate +3 host\(s\) in one Nix evaluation/);
    expect(table.stderr).toMatch(/web2 +│ build +built in/);

    const again = await oscd(["build", "--repo", repo.dir, "--state-dir", state, "--roots-dir", rootDir, "--json"]);
    const out = json<{ commit: string; hosts: { name: string; status: string; closureSize: number }[] }>(again);
    expect(out.commit).toBe(await repo.head());
    expect(out.hosts.map((h) => h.status)).toEqual(["present", "present", "present"]);
    expect(again.stderr).toMatch(/db1 +│ build +already present/);

    await repo.commitFile("hosts/db1.nix", "{ hostname = ; }\n");
    const broken = await oscd(["build", "--repo", repo.dir, "--state-dir", state, "--roots-dir", rootDir, "--json"]);
    expect(broken.exitCode).toBe(1);
    const b = json<{ hosts: { name: string; status: string; error?: { code: string } }[] }>(broken);
    expect(b.hosts.find((h) => h.name === "db1")).toMatchObject({ status: "failed", error: { code: "nix-eval-failed" } });
    expect(b.hosts.filter((h) => h.status === "present").map((h) => h.name)).toEqual(["web1", "web2"]);
    expect(broken.stderr).toMatch(/oscd: error\[hosts-failed\]: 1 of 3 host\(s\) failed: db1 \(evaluate: /);
    expect(broken.stderr).toMatch(/\nhint: /);
  });

  it("has --help with examples, and refuses bad flags with exit 2", async () => {
    const help = await oscd(["build", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n {2}oscd build/);
    expect(help.stdout).toMatch(/--builders <spec>/);
    expect((await oscd(["build", "--max-jobs", "many"])).exitCode).toBe(2);
    const evalOnly = await oscd(["build", "--eval-only", "--builders", "ssh://x"]);
    expect(evalOnly.exitCode).toBe(2);
    expect(evalOnly.stderr).toMatch(/^oscd: error\[usage\]: --eval-only builds nothing/);
  });
});
