import { lstat, readlink, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandTimeoutError, ToolMissingError } from "../../../src/core/errors.js";
import { run } from "../../../src/core/exec.js";
import {
  addRoot,
  build,
  closure,
  copyTo,
  currentGeneration,
  deleteGenerations,
  evalJson,
  instantiate,
  isValidPath,
  listGenerations,
  nixRun,
  nixVersion,
  NixCommandError,
  pathInfo,
  realise,
  rollbackProfile,
  setProfile,
  switchGeneration,
  NoSuchGenerationError,
  InvalidStorePathError,
  StoreUnreachableError,
  PathUnavailableError,
  UnsignedPathError,
  evalExprJson,
} from "../../../src/nix/index.js";
import { FleetRepo, buildFakeToplevel, tempDir, uniqueMarker, must } from "../../harness/index.js";

let dir: string;
let fleet: FleetRepo;
beforeAll(async () => {
  dir = await tempDir("nixadapters");
  fleet = await FleetRepo.create({ layout: "flake" });
});
afterAll(async () => {
  await fleet.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe("version detection", () => {
  it("reads the installed Nix version", async () => {
    const v = await nixVersion();
    expect(v.major).toBeGreaterThanOrEqual(2);
    expect(v.text).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("evaluation and build", () => {
  it("evaluates a flake attribute and a classic file attribute to JSON", async () => {
    const commit = await fleet.head();
    const flake = fleet.nixSource(commit);
    expect(await evalJson(flake, "nixosConfigurations.web1.config.system.build.toplevel.name")).toBe("nixos-system-web1-1.0.0");
    const classic = await FleetRepo.create({ layout: "classic", hosts: ["a1"] });
    try {
      expect(await evalJson(classic.nixSource(await classic.head()), "hosts.a1.name")).toBe("nixos-system-a1-1.0.0");
    } finally {
      await classic.destroy();
    }
    expect(await evalExprJson("1 + 2")).toBe(3);
  });

  it("instantiates and builds several hosts in one call, results in the order asked", async () => {
    const commit = await fleet.head();
    const attrs = ["db1", "web1", "web2"].map((h) => fleet.attr(h));
    const drvs = await instantiate(fleet.nixSource(commit), attrs);
    expect(drvs.map((d) => d.drvPath)).toEqual(drvs.map((d) => d.drvPath).filter((p) => p.endsWith(".drv")));
    const built = await build(fleet.nixSource(commit), attrs);
    expect(built.map((b) => b.outPath.replace(/^.*nixos-system-/, ""))).toEqual(["db1-1.0.0", "web1-1.0.0", "web2-1.0.0"]);
    for (const b of built) expect(await isValidPath(b.outPath)).toBe(true);
    expect(built.map((b) => b.outPath)).toEqual(drvs.map((d) => d.outPath));
  });

  it("turns an evaluation error into a typed error with Nix's message", async () => {
    const bad = fleet.nixSource(await fleet.head());
    const err = await build(bad, ["nixosConfigurations.nosuchhost.config.system.build.toplevel"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NixCommandError);
    expect((err as NixCommandError).code).toBe("nix-eval-failed");
    expect((err as NixCommandError).message).toMatch(/nosuchhost/);
    expect((err as NixCommandError).command[0]).toBe("nix");
    expect((err as NixCommandError).stderrTail).toMatch(/error/);
  });
});

describe("store queries, copies and roots", () => {
  it("reports path info, closure size and the closure", async () => {
    const p = await buildFakeToplevel({ hostname: "q", marker: uniqueMarker() });
    const [info] = await pathInfo([p], { closureSize: true });
    expect(info?.valid).toBe(true);
    // Nix 2.8 prints SRI hashes (sha256-…) in JSON and base-32 ones (sha256:…) in narinfos.
    expect(info?.narHash).toMatch(/^sha256[:-]/);
    expect(info?.closureSize).toBeGreaterThan(info?.narSize ?? 0);
    const c = await closure([p]);
    expect(c).toContain(p);
    expect(c.some((x) => x.includes("-linux-6.1.0"))).toBe(true);
  });

  it("copies a closure to a file cache and only the missing part again", async () => {
    const p = await buildFakeToplevel({ hostname: "c", marker: uniqueMarker() });
    const cache = `file://${join(dir, "cache1")}`;
    await copyTo(cache, [p]);
    const [remote] = await pathInfo([p], { store: cache });
    expect(remote?.valid).toBe(true);
    const logs: string[] = [];
    await copyTo(cache, [p], { onLog: (l) => logs.push(l) });
    expect(logs.join("\n")).not.toMatch(/copying path/);
  });

  it("refuses a store URL that is not one, and names an unreachable store", async () => {
    await expect(copyTo("ftp://x", [])).rejects.toThrow(/not a Nix store URL/);
    const p = await buildFakeToplevel({ hostname: "u", marker: uniqueMarker() });
    const err = await copyTo("ssh://root@127.0.0.1:1", [p], { sshOpts: ["-oConnectTimeout=3", "-oBatchMode=yes"], timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnreachableError);
    expect((err as Error).message).toMatch(/cannot reach the store ssh:\/\/root@127.0.0.1:1/);
  });

  it("realises a path from a cache with the GC root taken first, and refuses unsigned paths", async () => {
    const p = await buildFakeToplevel({ hostname: "r", marker: uniqueMarker() });
    const cacheDir = join(dir, "cache-r");
    await copyTo(`file://${cacheDir}`, [p]);
    // Take it out of the local store so it has to come from the (unsigned) cache.
    await must("nix-store", ["--delete", p]);
    expect(await isValidPath(p)).toBe(false);
    const rootDir = join(dir, "roots");
    // The machine's GC must see the root: use a directory under the real gcroots.
    const gcDir = "/nix/var/nix/gcroots/oscd-tests";
    const name = `r-${uniqueMarker()}`;
    const err = await realise(p, { rootName: name, rootDir: gcDir, substituters: [`file://${cacheDir}`], trustedPublicKeys: ["nobody:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsignedPathError);
    expect((err as UnsignedPathError).exitCode).toBe(3);
    expect(await readlink(join(gcDir, name))).toBe(p);
    expect(await isValidPath(p)).toBe(false);
    // No cache at all: a clear "unavailable".
    const none = await realise(p, { rootName: name, rootDir: gcDir, substituters: [`file://${join(dir, "empty-cache")}`] }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(PathUnavailableError);
    await rm(join(gcDir, name), { force: true });
    await rm(rootDir, { recursive: true, force: true });
  });

  it("makes GC roots atomically and rejects a non-store target", async () => {
    const p = await buildFakeToplevel({ hostname: "g", marker: uniqueMarker() });
    const link = await addRoot(p, "g1", join(dir, "gc"));
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe(p);
    await expect(addRoot("/etc/passwd", "g2", join(dir, "gc"))).rejects.toBeInstanceOf(InvalidStorePathError);
  });
});

describe("profiles", () => {
  it("sets, lists, switches, rolls back and deletes generations", async () => {
    const profile = join(dir, "profiles", "system");
    const a = await buildFakeToplevel({ hostname: "p", marker: "a" + uniqueMarker() });
    const b = await buildFakeToplevel({ hostname: "p", marker: "b" + uniqueMarker() });
    const c = await buildFakeToplevel({ hostname: "p", marker: "c" + uniqueMarker() });
    await must("mkdir", ["-p", join(dir, "profiles")]);
    for (const x of [a, b, c]) await setProfile(x, profile);
    let gens = await listGenerations(profile);
    expect(gens.map((g) => [g.number, g.storePath, g.current])).toEqual([
      [1, a, false],
      [2, b, false],
      [3, c, true],
    ]);
    const prev = await rollbackProfile(profile);
    expect(prev.number).toBe(2);
    expect((await listGenerations(profile)).find((g) => g.current)?.storePath).toBe(b);
    await switchGeneration(1, profile);
    expect((await listGenerations(profile)).find((g) => g.current)?.number).toBe(1);
    await expect(switchGeneration(9, profile)).rejects.toBeInstanceOf(NoSuchGenerationError);
    await switchGeneration(3, profile);
    await deleteGenerations({ keep: 2 }, profile);
    gens = await listGenerations(profile);
    expect(gens.map((g) => g.number)).toEqual([2, 3]);
    await deleteGenerations({ numbers: [3] }, profile);
    expect((await listGenerations(profile)).map((g) => g.number)).toEqual([2, 3]);
  });

  it("reads the current generation from the profile's links as nix-env leaves them, and nothing from a profile pointing elsewhere", async () => {
    const profile = join(dir, "profiles-current", "system");
    await must("mkdir", ["-p", join(dir, "profiles-current")]);
    expect(await currentGeneration(profile)).toBeUndefined();
    const a = await buildFakeToplevel({ hostname: "p", marker: "ca" + uniqueMarker() });
    const b = await buildFakeToplevel({ hostname: "p", marker: "cb" + uniqueMarker() });
    for (const x of [a, b]) await setProfile(x, profile);
    const listed = (await listGenerations(profile)).find((g) => g.current);
    expect(await currentGeneration(profile)).toEqual(listed);
    expect((await currentGeneration(profile))?.number).toBe(2);
    await switchGeneration(1, profile);
    expect(await currentGeneration(profile)).toMatchObject({ number: 1, storePath: a, current: true, link: `${profile}-1-link` });
    // An absolute link to a generation counts; a link to anything else is no generation.
    await must("ln", ["-sfn", `${profile}-2-link`, profile]);
    expect(await currentGeneration(profile)).toMatchObject({ number: 2, storePath: b });
    await must("ln", ["-sfn", b, profile]);
    expect(await currentGeneration(profile)).toBeUndefined();
    await must("ln", ["-sfn", join(dir, "elsewhere", "system-2-link"), profile]);
    expect(await currentGeneration(profile)).toBeUndefined();
    await must("ln", ["-sfn", "system-9-link", profile]);
    expect(await currentGeneration(profile)).toBeUndefined();
    expect((await listGenerations(profile)).find((g) => g.current)).toBeUndefined();
  });
});

describe("command failures", () => {
  it("stops a command that hangs at its timeout, with a typed error", async () => {
    const expr = `builtins.derivation { name = "hang-${uniqueMarker()}"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "/bin/sleep 30" ]; }`;
    const err = await nixRun("nix-build", ["--no-out-link", "-E", expr], { timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandTimeoutError);
    expect((err as CommandTimeoutError).message).toMatch(/did not finish within 1.5s/);
    expect((err as CommandTimeoutError).command[0]).toBe("nix-build");
  });

  it("says how to install Nix when it is missing", async () => {
    const err = await nixRun("nix", ["--version"], { env: { PATH: "/nonexistent" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolMissingError);
    expect((err as ToolMissingError).hint).toMatch(/apt-get install nix-bin/);
  });

  it("never shell-interprets arguments", async () => {
    const r = await run("echo", ["$(touch /tmp/oscd-should-not-exist)", ";", "|"], { timeoutMs: 5000 });
    expect(r.stdout.trim()).toBe("$(touch /tmp/oscd-should-not-exist) ; |");
    await expect(lstat("/tmp/oscd-should-not-exist")).rejects.toThrow();
  });
});
