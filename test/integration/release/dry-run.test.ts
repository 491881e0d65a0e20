import { access } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DryRunPlan } from "../../../src/core/dry-run.js";
import { makeCli } from "./cli.js";
import { ENV, git, ReleaseRepos, writeEvent } from "./repos.js";

/**
 * `oscd release bump|from-event --dry-run`: every check, and no commit, tag, push, fetch or
 * moved checkout (every ref of the clone and of origin stays); the plan names the commits, tags
 * and push the real run then makes.
 */
let repos: ReleaseRepos;
let oscd: Awaited<ReturnType<typeof makeCli>>;
beforeAll(async () => {
  repos = await ReleaseRepos.create();
  oscd = await makeCli(repos.root);
});
afterAll(async () => {
  await repos.cleanup();
});

const env = { ...ENV, GITHUB_REPOSITORY: "example-org/fleet" };

/** Every ref (branches, tags, remote-tracking, HEAD), the working tree's state, and FETCH_HEAD. */
async function refs(dir: string): Promise<unknown> {
  return {
    refs: await git(dir, ["for-each-ref", "--format=%(refname) %(objectname)"]),
    head: await git(dir, ["rev-parse", "HEAD"]),
    status: await git(dir, ["status", "--porcelain"]),
    fetchHead: await access(join(dir, ".git", "FETCH_HEAD")).then(() => "present", () => "absent"),
  };
}

describe("oscd release --dry-run", () => {
  it("bump --push --dry-run commits, tags and pushes nothing; the plan names what the real bump then does", async () => {
    const before = [await refs(repos.work), await git(repos.origin, ["for-each-ref"])];
    const r = await oscd(["release", "bump", "minor", "--push", "--dry-run", "--json"], { cwd: repos.work, env });
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as DryRunPlan;
    expect(plan).toMatchObject({ dryRun: true, command: "release bump" });
    expect(plan.steps).toEqual([
      { action: "commit", target: "main", detail: expect.stringMatching(/^VERSION: 1\.2\.3 → 1\.3\.0 \(minor\), on [0-9a-f]{12}$/) },
      { action: "tag", target: "v1.3.0", detail: "annotated, on that commit" },
      { action: "push", target: `origin (${repos.origin})`, detail: "atomically: main and v1.3.0" },
      { action: "move", target: "main", detail: expect.stringContaining("to the last release commit") },
    ]);
    expect([await refs(repos.work), await git(repos.origin, ["for-each-ref"])]).toEqual(before);

    const real = await oscd(["release", "bump", "minor", "--push"], { cwd: repos.work, env });
    expect(real.exitCode, real.stderr).toBe(0);
    expect(Object.keys(await repos.tags())).toEqual(["v1.3.0"]);
    expect(await repos.fileAt(repos.origin, "v1.3.0", "VERSION")).toBe("1.3.0");
  });

  it("names the remote without the credentials in its URL", async () => {
    const clone = await repos.clone();
    await git(clone, ["remote", "set-url", "origin", "https://ci:tok3n@git.example.invalid/fleet.git"]);
    const r = await oscd(["release", "bump", "patch", "--push", "--dry-run"], { cwd: clone, env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dry run of oscd release bump: nothing was changed/);
    expect(r.stdout).toMatch(/push +origin \(https:\/\/git\.example\.invalid\/fleet\.git\) +- +atomically: main and v1\.3\.1/);
    expect(r.stdout + r.stderr).not.toContain("tok3n");
  });

  it("from-event --push --dry-run fetches nothing, says the branch moved on the remote, and tags nothing", async () => {
    const event = await writeEvent(repos.root, ["release:patch"]);
    await repos.pushCompeting(await repos.clone(), "hosts/web2.nix", "{ }\n");
    const clone = join(repos.root, "ci");
    await git(repos.root, ["clone", "-q", repos.origin, clone]);
    await repos.pushCompeting(await repos.clone(), "hosts/web3.nix", "{ }\n");
    const before = [await refs(clone), await git(repos.origin, ["for-each-ref"])];
    const r = await oscd(["release", "from-event", event, "--push", "--dry-run", "--json"], { cwd: clone, env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/origin's main is at [0-9a-f]{12} now, not [0-9a-f]{12}: a real run fetches it and releases on top of it/);
    const plan = JSON.parse(r.stdout) as DryRunPlan;
    expect(plan.steps.map((s) => [s.action, s.target])).toEqual([["commit", "main"], ["tag", "v1.3.1"], ["push", `origin (${repos.origin})`]]);
    expect([await refs(clone), await git(repos.origin, ["for-each-ref"])]).toEqual(before);

    const real = await oscd(["release", "from-event", event, "--push"], { cwd: clone, env });
    expect(real.exitCode, real.stderr).toBe(0);
    expect(Object.keys(await repos.tags()).sort()).toEqual(["v1.3.0", "v1.3.1"]);
  });
});
