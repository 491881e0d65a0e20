import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { releaseBump, type ReleaseResult } from "../../../src/release/index.js";
import { ENV, git, ReleaseRepos, reposPerTest } from "./repos.js";

const setup = reposPerTest();

/** Runs a bump expecting an error; returns it. */
async function bumpError(r: ReleaseRepos, levels: string[], extra: Partial<Parameters<typeof releaseBump>[0]> = {}): Promise<{ code: string; exitCode: number; message: string }> {
  try {
    await releaseBump({ repoDir: r.work, levels, env: ENV, ...extra });
  } catch (e) {
    return e as { code: string; exitCode: number; message: string };
  }
  throw new Error("expected the bump to fail");
}

/** Nothing was committed, tagged or pushed: work and origin are as they were. */
async function expectUntouched(r: ReleaseRepos, before: { work: string; origin: string }): Promise<void> {
  expect(await r.head(r.work)).toBe(before.work);
  expect(await r.head(r.origin, "main")).toBe(before.origin);
  expect(await r.tags(r.work)).toEqual({});
  expect(await r.tags()).toEqual({});
}

describe("oscd release bump", () => {
  it.each([
    ["major", "1.2.3", "2.0.0"],
    ["minor", "1.2.3", "1.3.0"],
    ["patch", "1.2.3", "1.2.4"],
    ["major", "0.9.12", "1.0.0"],
    ["minor", "3.9.7", "3.10.0"],
    ["patch", "3.9.9", "3.9.10"],
  ])("%s: %s → %s, one commit changing only VERSION, an annotated tag, pushed atomically", async (level, from, to) => {
    const r = await setup({ version: from });
    const base = await r.head(r.work);
    const res = await releaseBump({ repoDir: r.work, levels: [level], push: true, env: ENV });
    expect(res).toMatchObject({ status: "released", pushed: true, attempts: 1, branch: "main", remote: "origin", base, checkout: "advanced" });
    expect(res.releases.map((x) => [x.level, x.from, x.version, x.tag])).toEqual([[level, from, to, `v${to}`]]);
    const head = res.head as string;
    expect(await r.head(r.origin, "main")).toBe(head);
    expect(await r.tags()).toEqual({ [`v${to}`]: head });
    expect(await git(r.origin, ["cat-file", "-t", `refs/tags/v${to}`])).toBe("tag");
    expect(await r.fileAt(r.origin, `v${to}`, "VERSION")).toBe(to);
    expect(await git(r.origin, ["rev-parse", `${head}^`])).toBe(base);
    expect(await git(r.origin, ["diff-tree", "--no-commit-id", "--name-only", "-r", head])).toBe("VERSION");
    // the checkout moved with it
    expect(await r.head(r.work)).toBe(head);
    expect(await readFile(join(r.work, "VERSION"), "utf8")).toBe(`${to}\n`);
    expect(await git(r.work, ["status", "--porcelain"])).toBe("");
  });

  it("major and patch on 1.2.3 make v2.0.0 then v2.0.1, each its own commit and tag, in that order", async () => {
    const r = await setup({ version: "1.2.3" });
    const base = await r.head(r.work);
    const res = await releaseBump({ repoDir: r.work, levels: ["patch", "major"], push: true, env: ENV });
    expect(res.releases.map((x) => x.tag)).toEqual(["v2.0.0", "v2.0.1"]);
    const [major, patch] = res.releases as [ReleaseResult["releases"][0], ReleaseResult["releases"][0]];
    expect(await git(r.origin, ["rev-parse", `${major.commit}^`])).toBe(base);
    expect(await git(r.origin, ["rev-parse", `${patch.commit}^`])).toBe(major.commit);
    expect(await r.tags()).toEqual({ "v2.0.0": major.commit, "v2.0.1": patch.commit });
    expect(await r.head(r.origin, "main")).toBe(patch.commit);
    expect(await r.fileAt(r.origin, "v2.0.0", "VERSION")).toBe("2.0.0");
    expect(await r.fileAt(r.origin, "v2.0.1", "VERSION")).toBe("2.0.1");
    expect(await git(r.origin, ["log", "--format=%s", "main"])).toBe("Release v2.0.1\nRelease v2.0.0\nInitial fleet");
  });

  it("all three levels: v2.0.0, v2.1.0, v2.1.1", async () => {
    const r = await setup({ version: "1.2.3" });
    const res = await releaseBump({ repoDir: r.work, levels: ["minor", "patch", "major"], push: true, env: ENV });
    expect(res.releases.map((x) => x.tag)).toEqual(["v2.0.0", "v2.1.0", "v2.1.1"]);
    expect(Object.keys(await r.tags()).sort()).toEqual(["v2.0.0", "v2.1.0", "v2.1.1"]);
  });

  it("--strategy highest applies only the highest level; so does strategy = \"highest\" in oscd.toml", async () => {
    const r = await setup({ version: "1.2.3" });
    const res = await releaseBump({ repoDir: r.work, levels: ["major", "patch"], strategy: "highest", push: true, env: ENV });
    expect(res.releases.map((x) => x.tag)).toEqual(["v2.0.0"]);
    expect(await r.tags()).toEqual({ "v2.0.0": res.head });
    await r.commitWork({ "oscd.toml": '[release]\nstrategy = "highest"\n' });
    const res2 = await releaseBump({ repoDir: r.work, levels: ["minor", "patch"], env: ENV });
    expect(res2.releases.map((x) => x.tag)).toEqual(["v2.1.0"]);
    const res3 = await releaseBump({ repoDir: r.work, levels: ["minor", "patch"], strategy: "sequential", env: ENV });
    expect(res3.releases.map((x) => x.tag)).toEqual(["v2.2.0", "v2.2.1"]);
  });

  it("without --push it commits and tags locally only", async () => {
    const r = await setup();
    const originHead = await r.head(r.origin, "main");
    const res = await releaseBump({ repoDir: r.work, levels: ["minor"], env: ENV });
    expect(res).toMatchObject({ status: "released", pushed: false, attempts: 0 });
    expect(await r.tags(r.work)).toEqual({ "v1.3.0": res.head });
    expect(await r.tags()).toEqual({});
    expect(await r.head(r.origin, "main")).toBe(originHead);
  });

  it("uses the configured version file, tag prefix and keeps the file's line ending and mode", async () => {
    const r = await setup({ files: { "oscd.toml": '[release]\nversionFile = "meta/fleet-version"\ntagPrefix = "fleet-"\n', "meta/fleet-version": "0.4.1" } });
    await chmod(join(r.work, "meta/fleet-version"), 0o755);
    await git(r.work, ["commit", "-q", "-am", "executable version file"]);
    const res = await releaseBump({ repoDir: join(r.work, "meta"), levels: ["patch"], env: ENV });
    expect(res.releases.map((x) => x.tag)).toEqual(["fleet-0.4.2"]);
    expect(await readFile(join(r.work, "meta/fleet-version"), "utf8")).toBe("0.4.2");
    expect(await readFile(join(r.work, "VERSION"), "utf8")).toBe("1.2.3\n");
    expect(await git(r.work, ["ls-tree", "HEAD", "meta/fleet-version"])).toMatch(/^100755 /);
  });

  it("release notes: the tag's message says what was released", async () => {
    const r = await setup();
    await releaseBump({ repoDir: r.work, levels: ["minor"], env: ENV });
    expect(await git(r.work, ["tag", "-l", "--format=%(contents)", "v1.3.0"])).toBe("Release v1.3.0\n\nminor release: 1.2.3 → 1.3.0");
  });

  it("refuses a dirty tree (changed or untracked files): exit 3, nothing committed or pushed", async () => {
    const r = await setup();
    const before = { work: await r.head(r.work), origin: await r.head(r.origin, "main") };
    await writeFile(join(r.work, "hosts/web1.nix"), "{ changed = true; }\n");
    expect(await bumpError(r, ["patch"], { push: true })).toMatchObject({ code: "release-dirty-tree", exitCode: 3 });
    await git(r.work, ["checkout", "--", "hosts/web1.nix"]);
    await writeFile(join(r.work, "notes.txt"), "scratch\n");
    expect(await bumpError(r, ["patch"], { push: true })).toMatchObject({ code: "release-dirty-tree", exitCode: 3 });
    await expectUntouched(r, before);
  });

  it.each([["garbage\n"], ["v1.2.3\n"], ["1.2\n"], ["1.2.3\nextra\n"], [""]])("refuses a version file %j: exit 2, one line naming it, nothing committed", async (content) => {
    const r = await setup();
    await r.commitWork({ VERSION: content }, "break VERSION");
    const before = { work: await r.head(r.work), origin: await r.head(r.origin, "main") };
    const e = await bumpError(r, ["minor"], { push: true });
    expect(e).toMatchObject({ code: "release-bad-version", exitCode: 2 });
    expect(e.message).toMatch(/^VERSION at [0-9a-f]{12} is not a semantic version: ".*"$/);
    expect(e.message).not.toContain("\n");
    await expectUntouched(r, before);
  });

  it("refuses a missing version file", async () => {
    const r = await setup();
    await git(r.work, ["rm", "-q", "VERSION"]);
    await git(r.work, ["commit", "-q", "-m", "no version"]);
    expect(await bumpError(r, ["patch"])).toMatchObject({ code: "release-version-file-missing", exitCode: 2 });
  });

  it("refuses a tag that already exists (exit 3) and a release that would not be the newest", async () => {
    const r = await setup();
    await git(r.work, ["tag", "v1.2.4"]);
    const before = await r.head(r.work);
    expect(await bumpError(r, ["patch"], { push: true })).toMatchObject({ code: "release-tag-exists", exitCode: 3, message: "tag v1.2.4 already exists" });
    await git(r.work, ["tag", "-d", "v1.2.4"]);
    // a later level's tag exists: nothing at all is made, not even the first level's tag
    await git(r.work, ["tag", "-a", "-m", "x", "v1.3.1"]);
    expect(await bumpError(r, ["minor", "patch"])).toMatchObject({ code: "release-tag-exists", message: "tag v1.3.1 already exists" });
    await git(r.work, ["tag", "-d", "v1.3.1"]);
    await git(r.work, ["tag", "v1.9.0"]);
    expect(await bumpError(r, ["minor"])).toMatchObject({ code: "release-not-newest", exitCode: 3, message: "v1.3.0 would not be the newest release: v1.9.0 exists" });
    expect(await r.head(r.work)).toBe(before);
    expect(Object.keys(await r.tags(r.work))).toEqual(["v1.9.0"]);
  });

  it("refuses unknown levels before touching anything", async () => {
    const r = await setup();
    expect(await bumpError(r, ["major", "mayor"])).toMatchObject({ code: "release-bad-level", exitCode: 2 });
    expect(await bumpError(r, [])).toMatchObject({ code: "release-bad-level" });
  });

  it("a rejected push (origin moved) leaves no tag behind and the branch where it was", async () => {
    const r = await setup();
    const before = await r.head(r.work);
    const other = await r.clone();
    const competing = await r.pushCompeting(other, "hosts/web2.nix", "{ }\n");
    expect(await bumpError(r, ["minor"], { push: true })).toMatchObject({ code: "git-push-rejected" });
    expect(await r.head(r.work)).toBe(before);
    expect(await r.tags(r.work)).toEqual({});
    expect(await r.tags()).toEqual({});
    expect(await r.head(r.origin, "main")).toBe(competing);
    expect(await readFile(join(r.work, "VERSION"), "utf8")).toBe("1.2.3\n");
  });

  it("--push needs a branch; without --push a detached HEAD is moved to the release", async () => {
    const r = await setup();
    await git(r.work, ["checkout", "-q", "--detach"]);
    expect(await bumpError(r, ["patch"], { push: true })).toMatchObject({ code: "release-detached-head", exitCode: 2 });
    const res = await releaseBump({ repoDir: r.work, levels: ["patch"], env: ENV });
    expect(await r.head(r.work)).toBe(res.head);
    expect(res.branch).toBeUndefined();
  });

  it("says so when git has no identity to commit with", async () => {
    const r = await setup();
    const noIdentity = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", GIT_AUTHOR_NAME: undefined, GIT_AUTHOR_EMAIL: undefined, GIT_COMMITTER_NAME: undefined, GIT_COMMITTER_EMAIL: undefined, EMAIL: undefined, HOME: r.root };
    await git(r.work, ["config", "user.useConfigOnly", "true"]);
    const e = await bumpError(r, ["patch"], { env: noIdentity });
    expect(e).toMatchObject({ code: "release-no-identity", exitCode: 2, hint: expect.stringMatching(/^set one, e\.g\. git config user\.name/) });
  });
});
