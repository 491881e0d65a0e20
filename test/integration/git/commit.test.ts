import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  checkoutDetached,
  commitFileChange,
  createTag,
  defaultBranch,
  deleteTag,
  fastForward,
  GitIdentityError,
  readFileAt,
  remoteUrl,
  repoRoot,
  tagExists,
  trailerValues,
} from "../../../src/git/index.js";
import { commit, fixedEnv, g, initBare, initRepo, TempDirs } from "./fixtures.js";

const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

async function repoWithVersion(): Promise<{ dir: string; base: string }> {
  const dir = await initRepo(join(await tmp.make("commit"), "r"));
  const base = await commit(dir, "first", { VERSION: "1.0.0\n", "bin/run.sh": "#!/bin/sh\n", "hosts/web1.nix": "{ }\n" });
  return { dir, base };
}

/** Everything a commit without checkout must leave alone: HEAD, refs, index and working tree. */
async function checkoutState(dir: string): Promise<string> {
  return [await g(dir, ["rev-parse", "HEAD"]), await g(dir, ["for-each-ref"]), await g(dir, ["ls-files", "--stage"]), await g(dir, ["status", "--porcelain"])].join("\n");
}

describe("commitFileChange and readFileAt", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ["GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it("commits one file's new content on a parent without touching HEAD, refs, index or working tree", async () => {
    const { dir, base } = await repoWithVersion();
    const before = await checkoutState(dir);
    const file = await readFileAt(dir, base, "VERSION");
    expect(file).toEqual({ content: "1.0.0\n", mode: "100644" });
    expect(await readFileAt(dir, base, "bin/run.sh")).toMatchObject({ mode: "100755" });
    expect(await readFileAt(dir, base, "NOPE")).toBeUndefined();
    const id = await commitFileChange(dir, base, { path: "VERSION", content: "1.1.0\n", mode: "100644" }, "Release 1.1.0\n\nOscd-Release: v1.1.0\n", { env: fixedEnv() });
    expect(await checkoutState(dir)).toBe(before);
    expect(await g(dir, ["rev-parse", `${id}^`])).toBe(base);
    expect(await g(dir, ["diff", "--name-only", base, id])).toBe("VERSION");
    expect(await readFileAt(dir, id, "VERSION")).toEqual({ content: "1.1.0\n", mode: "100644" });
    expect(await trailerValues(dir, base, id, "Oscd-Release")).toEqual(["v1.1.0"]);
  });

  it("ignores GIT_DIR, GIT_INDEX_FILE and GIT_WORK_TREE an outer git (a hook) left in the environment", async () => {
    const { dir, base } = await repoWithVersion();
    const other = await repoWithVersion();
    const otherBefore = await checkoutState(other.dir);
    process.env.GIT_DIR = join(other.dir, ".git");
    process.env.GIT_WORK_TREE = other.dir;
    process.env.GIT_INDEX_FILE = join(other.dir, ".git", "index");
    const id = await commitFileChange(dir, base, { path: "VERSION", content: "2.0.0\n", mode: "100644" }, "Release 2.0.0\n", { env: fixedEnv() });
    delete process.env.GIT_DIR;
    delete process.env.GIT_WORK_TREE;
    delete process.env.GIT_INDEX_FILE;
    expect(await g(dir, ["cat-file", "-t", id])).toBe("commit");
    expect(await g(other.dir, ["cat-file", "-e", id]).catch(() => "absent")).toBe("absent");
    expect(await checkoutState(other.dir)).toBe(otherBefore);
  });

  it("refuses a parent git would read as an option and a mode that is not a regular file", async () => {
    const { dir, base } = await repoWithVersion();
    await expect(commitFileChange(dir, "--all", { path: "VERSION", content: "x\n", mode: "100644" }, "m", { env: fixedEnv() })).rejects.toMatchObject({ code: "git-bad-argument" });
    await expect(commitFileChange(dir, base, { path: "VERSION", content: "x\n", mode: "120000" }, "m", { env: fixedEnv() })).rejects.toThrow(/not a regular file mode/);
    await expect(readFileAt(dir, "--output=/tmp/x", "VERSION")).rejects.toMatchObject({ code: "git-bad-argument" });
  });

  it("without an identity, commits and tags fail with git-no-identity (exit 2)", async () => {
    const { dir, base } = await repoWithVersion();
    await g(dir, ["config", "user.useConfigOnly", "true"]);
    const none = { ...fixedEnv(), GIT_AUTHOR_NAME: undefined, GIT_AUTHOR_EMAIL: undefined, GIT_COMMITTER_NAME: undefined, GIT_COMMITTER_EMAIL: undefined, EMAIL: undefined, HOME: dir };
    const e = await commitFileChange(dir, base, { path: "VERSION", content: "1.1.0\n", mode: "100644" }, "m", { env: none }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GitIdentityError);
    expect(e).toMatchObject({ code: "git-no-identity", exitCode: 2, message: `git has no committer identity in ${dir}` });
    await expect(createTag(dir, "v1.0.0", base, "release", { env: none })).rejects.toMatchObject({ code: "git-no-identity", exitCode: 2 });
  });
});

describe("tags, remotes and the checkout", () => {
  it("tagExists and deleteTag; names that look like options are refused", async () => {
    const { dir, base } = await repoWithVersion();
    expect(await tagExists(dir, "v1.0.0")).toBe(false);
    await createTag(dir, "v1.0.0", base, "release", { env: fixedEnv() });
    expect(await tagExists(dir, "v1.0.0")).toBe(true);
    await deleteTag(dir, "v1.0.0");
    expect(await tagExists(dir, "v1.0.0")).toBe(false);
    await expect(tagExists(dir, "-h")).rejects.toMatchObject({ code: "git-bad-argument" });
    await expect(deleteTag(dir, "--stdin")).rejects.toMatchObject({ code: "git-bad-argument" });
  });

  it("remoteUrl, defaultBranch (the remote's HEAD, else the checked-out branch, else none)", async () => {
    const { dir, base } = await repoWithVersion();
    expect(await remoteUrl(dir, "origin")).toBeUndefined();
    expect(await defaultBranch(dir)).toBe("main");
    const bare = await initBare(join(await tmp.make("bare"), "origin.git"));
    await g(dir, ["remote", "add", "origin", bare]);
    expect(await remoteUrl(dir, "origin")).toBe(bare);
    await expect(remoteUrl(dir, "--upload-pack=x")).rejects.toMatchObject({ code: "git-bad-argument" });
    await g(dir, ["update-ref", "refs/remotes/origin/production", base]);
    await g(dir, ["symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/production"]);
    expect(await defaultBranch(dir)).toBe("production");
    expect(await defaultBranch(await tmp.make("not-a-repo"))).toBeUndefined();
  });

  it("repoRoot from a subdirectory; fastForward and checkoutDetached move index and working tree", async () => {
    const { dir, base } = await repoWithVersion();
    expect(await repoRoot(join(dir, "hosts"))).toBe(dir);
    await expect(repoRoot(await tmp.make("plain"))).rejects.toMatchObject({ code: "git-not-a-repo" });
    const next = await commitFileChange(dir, base, { path: "VERSION", content: "1.0.1\n", mode: "100644" }, "Release 1.0.1\n", { env: fixedEnv() });
    await fastForward(dir, next);
    expect(await g(dir, ["rev-parse", "HEAD"])).toBe(next);
    expect(await g(dir, ["status", "--porcelain"])).toBe("");
    await checkoutDetached(dir, base);
    expect(await g(dir, ["rev-parse", "HEAD"])).toBe(base);
    expect(await g(dir, ["symbolic-ref", "-q", "HEAD"]).catch(() => "detached")).toBe("detached");
  });
});
