import { access, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import type { DryRunPlan } from "../../../src/core/dry-run.js";
import { FleetRepo, tempDir, uniqueMarker } from "../../harness/index.js";
import { json, oscd } from "./helpers.js";

/**
 * `oscd publish --dry-run` builds but writes nothing: no cache (not even its directory), no
 * cache entry, no manifest; and the plan names what the real publish then uploads and writes.
 */
let dir: string;
let keyFile: string;
let cache: string;
let repo: FleetRepo;
const key = generateSecretKey("fleet-dry");
const rootDir = "/nix/var/nix/gcroots/oscd-tests-publish-dry";

beforeAll(async () => {
  dir = await tempDir("publish-dry");
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  cache = join(dir, "cache");
  repo = await FleetRepo.create({ hosts: ["web1", "web2"].map((name) => ({ name, marker: uniqueMarker() })) });
  await repo.commitFile("oscd.toml", `caches = ["file://${cache}"]\n[keys]\ntrusted = ["${formatPublicKey(publicKeyOf(key))}"]\n`);
});
afterAll(async () => {
  await repo?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

const publish = (...extra: string[]) => oscd(["publish", "--repo", repo.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--sign-key", keyFile, ...extra]);

interface Summary {
  status: string;
  sequence: number;
  uploadedPaths: number;
  hosts: { name: string; toplevel?: string; uploadedPaths: number }[];
}

/** Every file under the cache with its size and modification time. */
async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else out.push(`${p} ${(await stat(join(root, p))).size} ${(await stat(join(root, p))).mtimeMs}`);
    }
  };
  await walk("");
  return out.sort();
}

const steps = (p: DryRunPlan, action: string) => p.steps.filter((s) => s.action === action);

describe("oscd publish --dry-run", () => {
  it("into a cache that does not exist yet: builds, creates nothing, and names the uploads and the manifest the real publish then makes", async () => {
    const r = await publish("--dry-run", "--json");
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = json<DryRunPlan>(r);
    expect(plan).toMatchObject({ dryRun: true, command: "publish" });
    // Not even the cache's directory was made.
    await expect(access(cache)).rejects.toThrow();
    expect(steps(plan, "create")).toEqual([{ action: "create", target: `file://${cache}`, detail: "a new binary cache (nix-cache-info)" }]);
    const uploads = steps(plan, "upload");
    expect(uploads.map((s) => s.host).sort()).toEqual(["web1", "web2"]);
    const [write] = steps(plan, "write");
    expect(write).toMatchObject({ target: `file://${cache}/channels/main.json` });
    expect(write!.detail).toMatch(/^sequence 1 \(the channel's first\), and main\.1\.json beside it; signed by fleet-dry, expires .*; web1 new, web2 new$/);

    const real = json<Summary>(await publish("--json"));
    expect(real).toMatchObject({ status: "written", sequence: 1 });
    for (const h of real.hosts) expect(uploads.find((u) => u.host === h.name)!.detail).toMatch(new RegExp(`, of ${h.toplevel}$`));
    expect(steps(plan, "sign")[0]!.detail).toBe(`${real.uploadedPaths} path(s) for file://${cache} with fleet-dry`);
  });

  it("after a change to one host: the cache and the channel stay byte for byte; the plan names that host's upload and the next sequence", async () => {
    await repo.commitHostChange("web1", `dry-${uniqueMarker()}`);
    const before = await listing(cache);
    const r = await publish("--dry-run", "--server", "https://ci:s3cret@oscd.example.invalid", "--rollout");
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dry run of oscd publish: nothing was changed/);
    expect(r.stdout).toMatch(new RegExp(`upload +file://${cache} +web1 +1 path\\(s\\)`));
    expect(r.stdout).not.toMatch(/ web2 +\d+ path/);
    expect(r.stdout).toMatch(/write +.*main\.json +- +sequence 2 \(previous 1\).*web1 changed, web2 unchanged/);
    // The server is named without its credentials, and was not asked (the host does not exist).
    expect(r.stdout).toMatch(/hand off +https:\/\/oscd\.example\.invalid\/? .*start a rollout with the channel's plan/);
    expect(r.stdout + r.stderr).not.toContain("s3cret");
    expect(await listing(cache)).toEqual(before);

    const real = json<Summary>(await publish("--json"));
    expect(real).toMatchObject({ status: "written", sequence: 2 });
    expect(real.hosts.filter((h) => h.uploadedPaths > 0).map((h) => h.name)).toEqual(["web1"]);
  });

  it("the same commit again: a real run would change nothing, and the dry run says so; --refresh --dry-run names the next sequence and writes nothing", async () => {
    const before = await listing(cache);
    const same = await publish("--dry-run");
    expect(same.exitCode, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/the channel already says this at sequence 2: no manifest would be written/);
    expect(same.stdout).toMatch(/a real run would change nothing/);
    const refresh = json<DryRunPlan>(await publish("--refresh", "--dry-run", "--json"));
    expect(refresh.steps).toEqual([expect.objectContaining({ action: "write", target: `file://${cache}/channels/main.json`, detail: expect.stringMatching(/^sequence 3 \(previous 2\), the same content/) })]);
    expect(await listing(cache)).toEqual(before);
  });
});
