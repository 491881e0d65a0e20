import { chmod, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/core/exec.js";
import { loadFleet } from "../../src/fleet/index.js";
import { parseManifest } from "../../src/manifest/index.js";
import { ensureBuilt, FleetRepo, GIT_ENV, OSCD_BIN, REPO_ROOT, SimHost, tempDir, uniqueMarker } from "../harness/index.js";

/**
 * README.md's five-minute tour, steps 1 and 2, run as written: every shell line of those
 * steps, in order, in a git checkout of a flake with nixosConfigurations and no oscd yet, and
 * nothing else. Lines under "A machine …" run on a simulated host. What the test sets is the
 * environment a reader has, never a step: `oscd` on PATH, a git identity, Nix's settings, a
 * home for oscd's cache; and the tour's cache `/srv/nix-cache` lives in a directory of this
 * test (the one word changed in each line), so runs never share a cache.
 */
const CACHE_IN_README = "/srv/nix-cache";
const DEFAULT_ROOTS = "/nix/var/nix/gcroots/oscd";

interface TourBlock {
  where: "fleet" | "machine";
  lines: string[];
}

/** The shell blocks of the tour's steps 1 and 2, each with where it runs. */
export function tourBlocks(readme: string): TourBlock[] {
  const start = readme.indexOf("**1. ");
  const end = readme.indexOf("**3. ");
  if (start < 0 || end < start) throw new Error("README.md: no tour steps 1 and 2 (**1. … **3.)");
  const blocks: TourBlock[] = [];
  let lastText = "";
  const lines = readme.slice(start, end).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const fence = /^```(\w*)\s*$/.exec(line);
    if (!fence) {
      if (line.trim() !== "") lastText = line;
      continue;
    }
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
    if (!["sh", "bash", ""].includes(fence[1] as string)) continue;
    blocks.push({ where: /\bmachine\b/i.test(lastText) ? "machine" : "fleet", lines: body.filter((l) => l.trim() !== "") });
  }
  return blocks;
}

let dir: string;
let fleet: FleetRepo;
let bin: string;
let cache: string;
let host: SimHost | undefined;
let env: Record<string, string>;
const runs: { line: string; exitCode: number; stdout: string; stderr: string }[] = [];

beforeAll(async () => {
  await ensureBuilt();
  dir = await tempDir("readme-tour");
  // A user's flake: hosts in nixosConfigurations, a VERSION it reads, no oscd.toml.
  fleet = await FleetRepo.create({ hosts: ["web1", "db1"].map((name) => ({ name, marker: uniqueMarker() })), version: "0.1.0" });
  bin = join(dir, "bin");
  await mkdir(bin);
  await writeFile(join(bin, "oscd"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(OSCD_BIN)} "$@"\n`);
  await chmod(join(bin, "oscd"), 0o755);
  cache = join(dir, "srv", "nix-cache");
  env = { ...GIT_ENV, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: join(dir, "home"), XDG_CACHE_HOME: join(dir, "home", ".cache") };
  await mkdir(env.HOME as string, { recursive: true });
}, 120_000);

afterAll(async () => {
  await host?.destroy();
  // The tour's publish roots its snapshot and builds under the default GC root directory, named
  // for this fleet (its directory's name) and its commits: those, and nothing of anyone else's.
  const commits = fleet ? (await fleet.git(["rev-list", "--all"])).split("\n") : [];
  const name = fleet ? fleet.dir.split("/").pop() : undefined;
  for (const e of await readdir(DEFAULT_ROOTS).catch(() => [] as string[])) {
    if ((name && e.startsWith(`build-${name}-`)) || commits.some((c) => e === `source-${c}`)) await rm(join(DEFAULT_ROOTS, e), { force: true });
  }
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("README.md's tour", () => {
  it("is three blocks on the fleet repository and one on a machine, from oscd keys generate to oscd manifest verify", async () => {
    const blocks = tourBlocks(await readFile(join(REPO_ROOT, "README.md"), "utf8"));
    expect(blocks.map((b) => b.where)).toEqual(["fleet", "fleet", "machine"]);
    const all = blocks.flatMap((b) => b.lines);
    expect(all[0]).toMatch(/^oscd keys generate /);
    expect(all[all.length - 1]).toMatch(/^oscd manifest verify /);
    expect(all.join("\n")).toContain(CACHE_IN_README);
  });

  it("runs as written: a key, a fleet file, a commit, a publish, and a manifest a machine verifies", async () => {
    const blocks = tourBlocks(await readFile(join(REPO_ROOT, "README.md"), "utf8"));
    for (const block of blocks) {
      for (const written of block.lines) {
        const line = written.replaceAll(CACHE_IN_README, cache);
        let r;
        if (block.where === "fleet") {
          r = await run("bash", ["-e", "-o", "pipefail", "-c", line], { cwd: fleet.dir, env, timeoutMs: 600_000 });
        } else {
          host ??= await SimHost.create({ name: "tour-web1" });
          r = await host.exec(["bash", "-e", "-o", "pipefail", "-c", line], { cwd: fleet.dir, env: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin` } });
        }
        runs.push({ line: written, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });
        expect(r.exitCode, `${written}\n${r.stderr}`).toBe(0);
        // A tour that works prints no error and no warning on the way.
        expect(r.stderr, written).not.toMatch(/error|warning/i);
      }
    }

    // What the steps left: oscd.toml committed with the cache and the generated key as trusted,
    const pub = (await readFile(join(fleet.dir, "fleet-1.public"), "utf8")).trim();
    const committed = await fleet.git(["show", "HEAD:oscd.toml"]);
    expect(committed).toContain(`caches = ["file://${cache}"]`);
    expect(committed).toContain(`trusted = ["${pub}"]`);
    expect((await loadFleet(fleet.dir)).config.keys.trusted).toEqual([pub]);
    // the secret never committed,
    expect(await fleet.git(["ls-files"])).not.toMatch(/fleet-1\.(secret|public)/);
    // a signed manifest of both hosts at that commit,
    const m = parseManifest(await readFile(join(cache, "channels", "main.json"), "utf8"));
    expect(m).toMatchObject({ channel: "main", sequence: 1, commit: await fleet.head(), version: "0.1.0" });
    expect(Object.keys(m.hosts).sort()).toEqual(["db1", "web1"]);
    // init's next three commands are the tour's,
    const init = runs.find((x) => x.line.startsWith("oscd init "));
    const tour = runs.map((x) => x.line.replace(/\s+#.*$/, "").replaceAll(CACHE_IN_README, cache));
    expect(init?.stdout.split("next:\n")[1]?.split("\n").filter(Boolean).map((l) => l.trim())).toEqual([tour[2], tour[3], tour[5]]);
    // and the machine's check: signed by fleet-1, in date.
    const verify = runs[runs.length - 1];
    expect(verify?.stdout).toMatch(/^ok: channel main sequence 1 \(0\.1\.0, [0-9a-f]{12}\) signed by fleet-1; expires /);
  }, 900_000);
});
