import { access, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DryRunPlan } from "../../../src/core/dry-run.js";
import { formatSecretKey, generateSecretKey } from "../../../src/nix/index.js";
import { FleetRepo, tempDir } from "../../harness/index.js";
import { json, oscd } from "./helpers.js";

/** `oscd bundle --dry-run` builds but makes no directory; the plan names what the real bundle holds. */
let dir: string;
let repo: FleetRepo;
let keyFile: string;
const rootDir = "/nix/var/nix/gcroots/oscd-tests-bundle-dry";

beforeAll(async () => {
  dir = await tempDir("bundle-dry");
  repo = await FleetRepo.create({ layout: "flake", hosts: ["kiosk1", "kiosk2"] });
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(generateSecretKey("bundle-dry")), { mode: 0o600 });
});
afterAll(async () => {
  await repo?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

const bundle = (out: string, ...extra: string[]) => oscd(["bundle", "--on", "kiosk1", "-o", out, "--sign-key", keyFile, "--repo", repo.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--sequence", "5", ...extra]);

describe("oscd bundle --dry-run", () => {
  it("writes no directory; the plan names the closure, the signature and the manifest the real bundle then has", async () => {
    const out = join(dir, "usb");
    const r = await bundle(out, "--dry-run", "--json");
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = json<DryRunPlan>(r);
    await expect(access(out)).rejects.toThrow();
    expect(plan.steps.map((s) => [s.action, s.target])).toEqual([
      ["copy", `file://${out}/cache`],
      ["sign", `file://${out}/cache`],
      ["write", `${out}/manifest.json`],
    ]);
    const toplevel = /^closure of (\S+) \(\d+ NAR bytes/.exec(plan.steps[0]!.detail!)![1]!;
    expect(plan.steps[2]!.detail).toMatch(/^channel bundle, sequence 5, commit [0-9a-f]{12}, expires .*, signed by bundle-dry; kiosk1$/);

    const real = await bundle(out, "--json");
    expect(real.exitCode, real.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as { sequence: number; hosts: Record<string, { toplevel: string }> };
    expect(manifest).toMatchObject({ sequence: 5, hosts: { kiosk1: { toplevel } } });
    // Refused as a real run is: a bundle never goes over other files.
    const again = await bundle(out, "--dry-run");
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain("error[bundle-dir-not-empty]");
  });
});
