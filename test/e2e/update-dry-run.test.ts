import { createServer, type Server } from "node:http";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DryRunPlan } from "../../src/core/dry-run.js";
import type { UpdateReport } from "../../src/update/index.js";
import { GIT_ENV, must, type FleetRepo } from "../harness/index.js";
import { inputFleet, PkgsRepo } from "../harness/input-fleet.js";
import { json, oscd } from "../integration/builder/helpers.js";

/**
 * `oscd update --dry-run`: the new input revisions, and the commit, build, merge, push and pull
 * request a real run makes, with no ref moved here or on the remote, nothing built (no GC
 * root) and no request to the forge.
 */
const rootsDir = "/nix/var/nix/gcroots/oscd-tests-update-dry";
let state: string;
let pkgs: PkgsRepo;
let fleet: FleetRepo;
let bare: string;
let server: Server;
let api: string;
const requests: string[] = [];
const token = "ghs_dryRunSecretToken0123";

beforeAll(async () => {
  state = await mkdtemp(join(tmpdir(), "oscd-update-dry-"));
  pkgs = await PkgsRepo.create({ nginxVersion: "1.24.0" });
  fleet = await inputFleet("flake", pkgs);
  bare = await mkdtemp(join(tmpdir(), "oscd-update-dry-remote-"));
  await must("git", ["clone", "-q", "--bare", fleet.dir, bare], { env: GIT_ENV });
  await fleet.git(["remote", "add", "origin", bare]);
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.statusCode = 500;
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await fleet?.destroy();
  await pkgs?.destroy();
  await rm(bare, { recursive: true, force: true });
  await rm(state, { recursive: true, force: true });
  await rm(rootsDir, { recursive: true, force: true });
});

const update = (args: string[], env?: Record<string, string>) => oscd(["update", "--repo", fleet.dir, "--state-dir", state, "--roots-dir", rootsDir, ...args], { env });
const refs = async () => ({ here: await fleet.git(["for-each-ref", "--format=%(refname) %(objectname)"]), status: await fleet.git(["status", "--porcelain"]), remote: (await must("git", ["-C", bare, "for-each-ref"])).stdout });

describe("oscd update --dry-run", () => {
  it("--merge --push: names the input change, the branch commit, the fast-forward and the push; moves no ref, builds nothing", async () => {
    const old = await pkgs.head();
    const next = await pkgs.commit({ nginxVersion: "1.25.0" });
    const base = await fleet.head("main");
    const before = await refs();
    const r = await update(["--merge", "--push", "--dry-run", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = json<DryRunPlan>(r);
    expect(plan).toMatchObject({ dryRun: true, command: "update" });
    expect(plan.steps).toEqual([
      { action: "update", target: "flake.lock", detail: `pkgs: ${old} → ${next}` },
      { action: "commit", target: "refs/heads/oscd/update", detail: `flake.lock on main (${base.slice(0, 12)}); the branch is created` },
      { action: "build", target: "every host", detail: expect.stringMatching(/^at that commit, then the checks: the flake's checks; what follows happens only when all pass$/) },
      { action: "fast-forward", target: "refs/heads/main", detail: `from ${base.slice(0, 12)} to the update commit (the checkout of ${fleet.dir})` },
      { action: "push", target: `origin (${bare})`, detail: "refs/heads/main" },
    ]);
    expect(await refs()).toEqual(before);
    await expect(access(rootsDir)).rejects.toThrow();

    const real = json<UpdateReport>(await update(["--merge", "--push", "--yes", "--json"]));
    expect(real.changes).toEqual([{ name: "pkgs", from: old, to: next }]);
    expect(real).toMatchObject({ merged: true, pushed: true });
    expect(await fleet.head("main")).toBe(real.commit);
    expect((await must("git", ["-C", bare, "rev-parse", "refs/heads/main"])).stdout.trim()).toBe(real.commit);
  });

  it("--github: names the push and the labelled pull request, and asks the forge nothing", async () => {
    const next = await pkgs.commit({ nginxVersion: "1.25.1" });
    const before = await refs();
    const r = await update(["--github", "--release", "patch", "--dry-run"], { GITHUB_TOKEN: token, GITHUB_API_URL: api, GITHUB_REPOSITORY: "acme/fleet" });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dry run of oscd update: nothing was changed/);
    expect(r.stdout).toContain(`→ ${next}`);
    expect(r.stdout).toMatch(new RegExp(`push +origin \\(${bare}\\) +- +refs/heads/oscd/update, replacing an older update there`));
    expect(r.stdout).toMatch(new RegExp(`pull request +${api}/repos/acme/fleet +- +oscd/update → main: "Update pkgs", labelled release:patch`));
    expect(r.stdout + r.stderr).not.toContain(token);
    expect(requests).toEqual([]);
    expect(await refs()).toEqual(before);
  });
});
