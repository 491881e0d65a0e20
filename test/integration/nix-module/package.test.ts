import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { REPO_ROOT, tempDir } from "../../harness/index.js";

/**
 * The flake's package (nix/package.nix) fetches each dependency of package-lock.json as one
 * fixed-output download: its path in the registry comes from name and version
 * (nix/npm-lock-sources.nix), its hash is the lock's own `integrity`, and the registry is npm's
 * default, asked from npm when building. These tests hold the lock as committed to what that
 * needs, and check the Nix side computes the paths npm's registry layout gives.
 */
interface LockEntry {
  name?: string;
  version?: string;
  integrity?: string;
  resolved?: string;
  link?: boolean;
  inBundle?: boolean;
}

interface Source {
  name: string;
  version: string;
  integrity: string;
  path: string;
  file: string;
}

async function lockPackages(): Promise<Record<string, LockEntry>> {
  const lock = JSON.parse(await readFile(join(REPO_ROOT, "package-lock.json"), "utf8")) as { lockfileVersion: number; packages: Record<string, LockEntry> };
  expect(lock.lockfileVersion).toBeGreaterThanOrEqual(2);
  return lock.packages;
}

/** The registry path of a lock entry, as npm lays out tarballs: `<name>/-/<unscoped name>-<version>.tgz`. */
function registryPath(modulePath: string, e: LockEntry): string {
  const name = e.name ?? modulePath.slice(modulePath.lastIndexOf("node_modules/") + "node_modules/".length);
  return `${name}/-/${name.split("/").at(-1) ?? ""}-${e.version ?? ""}.tgz`;
}

async function evalSources(lockFile: string): Promise<Record<string, Source>> {
  const expr = `import ${join(REPO_ROOT, "nix", "npm-lock-sources.nix")} { lock = builtins.fromJSON (builtins.readFile ${lockFile}); }`;
  const r = await run("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr], { timeoutMs: 60_000 });
  expect(r.stderr.split("\n").filter((l) => l.includes("error")).join("\n")).toBe("");
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout) as Record<string, Source>;
}

describe("the package's dependency fetch", () => {
  it("every package of the lock has a version and one sha512 integrity (the download's fixed hash), and none names a registry", async () => {
    const packages = await lockPackages();
    const entries = Object.entries(packages).filter(([p, e]) => p !== "" && !e.link);
    expect(entries.length).toBeGreaterThan(100);
    const problems = entries.flatMap(([p, e]) => [
      ...(typeof e.version === "string" && /^\d+\.\d+\.\d+/.test(e.version) ? [] : [`${p}: no version`]),
      // One hash only: Nix takes it as the download's output hash (several would not parse).
      ...(typeof e.integrity === "string" && /^sha512-[A-Za-z0-9+/]{86}==$/.test(e.integrity) ? [] : [`${p}: integrity ${String(e.integrity)}`]),
      // A resolved URL would name a host in the repository; a bundled entry would not be fetched.
      ...(e.resolved !== undefined && /:\/\//.test(e.resolved) ? [`${p}: resolved names a host`] : []),
      ...(e.inBundle ? [`${p}: bundled`] : []),
      // The tarball's file name becomes a store path name.
      ...(/^[A-Za-z0-9+._?=-]+$/.test(registryPath(p, e).split("/").at(-1) ?? "") ? [] : [`${p}: ${registryPath(p, e)} is not a store path name`]),
    ]);
    expect(problems).toEqual([]);
  });

  it("the Nix side gives every lock entry its registry path, integrity and tarball name", async () => {
    const packages = await lockPackages();
    const sources = await evalSources(join(REPO_ROOT, "package-lock.json"));
    const want = Object.entries(packages).filter(([p, e]) => p !== "" && !e.link);
    expect(Object.keys(sources).sort()).toEqual(want.map(([p]) => p).sort());
    for (const [p, e] of want) {
      const s = sources[p] as Source;
      expect(s.path, p).toBe(registryPath(p, e));
      expect(s.file, p).toBe(s.path.split("/").at(-1));
      expect(s.integrity, p).toBe(e.integrity);
      expect(s.version, p).toBe(e.version);
    }
    // Scoped names keep their scope in the path, not in the file name.
    const scoped = Object.values(sources).find((s) => s.name.startsWith("@"));
    expect(scoped?.path).toMatch(/^@[^/]+\/[^/]+\/-\/[^/@]+-\d[^/]*\.tgz$/);
  });

  it("leaves out the root, links, bundled entries and entries that already say where they come from; an alias keeps its real name", async () => {
    const dir = await tempDir("npm-lock-sources");
    const file = join(dir, "package-lock.json");
    const integrity = `sha512-${"A".repeat(86)}==`;
    await writeFile(
      file,
      JSON.stringify({
        lockfileVersion: 3,
        packages: {
          "": { name: "x", version: "1.0.0" },
          "node_modules/a": { version: "1.2.3", integrity },
          "node_modules/a/node_modules/@s/b": { version: "2.0.0", integrity },
          "node_modules/alias": { name: "real", version: "3.0.0", integrity },
          "node_modules/local": { resolved: "packages/local", link: true },
          "node_modules/c/node_modules/inner": { version: "1.0.0", inBundle: true },
          "node_modules/d": { version: "1.0.0", resolved: "file:vendor/d-1.0.0.tgz", integrity },
        },
      }),
    );
    const s = await evalSources(file);
    expect(Object.keys(s).sort()).toEqual(["node_modules/a", "node_modules/a/node_modules/@s/b", "node_modules/alias"]);
    expect(s["node_modules/a/node_modules/@s/b"]).toMatchObject({ name: "@s/b", path: "@s/b/-/b-2.0.0.tgz", file: "b-2.0.0.tgz" });
    expect(s["node_modules/alias"]).toMatchObject({ name: "real", path: "real/-/real-3.0.0.tgz" });
  });

  it("nix/ names no Node that nixpkgs marks insecure, and the package builds with Node 24 and the lock as its only pin", async () => {
    const files = (await readdir(join(REPO_ROOT, "nix"))).filter((f) => f.endsWith(".nix"));
    for (const f of files) {
      const text = await readFile(join(REPO_ROOT, "nix", f), "utf8");
      expect(text, f).not.toMatch(/nodejs[-_](1\d|20)\b/);
    }
    const pkg = await readFile(join(REPO_ROOT, "nix", "package.nix"), "utf8");
    expect(pkg).toMatch(/nodejs = nodejs_24;/);
    expect(pkg).toMatch(/outputHash = source\.integrity;/);
    expect(pkg).not.toMatch(/npmDepsHash/);
    const engines = (JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
    expect(engines).toBe(">=24");
  });
});
