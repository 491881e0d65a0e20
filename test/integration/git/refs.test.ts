import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OscdError } from "../../../src/core/errors.js";
import {
  currentBranch,
  GitNotARepoError,
  GitUnknownRefError,
  headCommit,
  isAncestor,
  isDirty,
  resolveCommit,
  resolveRefs,
} from "../../../src/git/index.js";
import { commit, g, initRepo, makeFleetRepo, TempDirs, writeText, type FleetRepo } from "./fixtures.js";

const tmp = new TempDirs();
let repo: FleetRepo;

beforeAll(async () => {
  repo = await makeFleetRepo(join(await tmp.make("refs"), "fleet"));
});
afterAll(() => tmp.cleanup());

describe("resolveCommit", () => {
  it("resolves a lightweight tag", async () => {
    expect(await resolveCommit(repo.dir, "v1.0.0")).toBe(repo.c.one);
  });

  it("peels an annotated tag to its commit, not the tag object", async () => {
    const tagObject = await g(repo.dir, ["rev-parse", "v1.2.0"]);
    expect(tagObject).not.toBe(repo.c.two);
    expect(await resolveCommit(repo.dir, "v1.2.0")).toBe(repo.c.two);
    expect(await resolveCommit(repo.dir, "refs/tags/v1.10.0")).toBe(repo.c.three);
  });

  it("resolves branches, HEAD, relative revisions, full and abbreviated ids", async () => {
    expect(await resolveCommit(repo.dir, "main")).toBe(repo.c.four);
    expect(await resolveCommit(repo.dir, "feature")).toBe(repo.c.feature);
    expect(await resolveCommit(repo.dir, "HEAD~1")).toBe(repo.c.three);
    expect(await resolveCommit(repo.dir, repo.c.two)).toBe(repo.c.two);
    expect(await resolveCommit(repo.dir, repo.c.two.slice(0, 10))).toBe(repo.c.two);
    expect(await resolveCommit(repo.dir, repo.c.two.toUpperCase().slice(0, 12))).toBe(repo.c.two);
  });

  it("names the ref when it is unknown", async () => {
    const err = await resolveCommit(repo.dir, "v9.9.9").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitUnknownRefError);
    const e = err as GitUnknownRefError;
    expect(e.code).toBe("git-unknown-ref");
    expect(e.ref).toBe("v9.9.9");
    expect(e.message).toContain('"v9.9.9"');
    expect(e.message).toContain(repo.dir);
    expect(e.hint).toBeTruthy();
    expect(e.exitCode).toBe(1);
  });

  it("refuses a ref that names a tree rather than a commit", async () => {
    const tree = await g(repo.dir, ["rev-parse", "HEAD^{tree}"]);
    await expect(resolveCommit(repo.dir, tree)).rejects.toMatchObject({ code: "git-unknown-ref" });
  });

  it("refuses refs that look like options", async () => {
    await expect(resolveCommit(repo.dir, "--all")).rejects.toMatchObject({ code: "git-bad-argument", exitCode: 2 });
    await expect(resolveCommit(repo.dir, "")).rejects.toMatchObject({ code: "git-bad-argument" });
  });

  it("reports a missing directory and a directory that is not a repository", async () => {
    const missing = join(repo.dir, "..", "does-not-exist");
    const e1 = await resolveCommit(missing, "main").catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(GitNotARepoError);
    expect((e1 as OscdError).code).toBe("git-not-a-repo");
    expect((e1 as OscdError).message).toContain(missing);
    const plain = await tmp.make("plain");
    await expect(resolveCommit(plain, "main")).rejects.toMatchObject({ code: "git-not-a-repo" });
  });
});

describe("headCommit, currentBranch, isDirty", () => {
  it("reads HEAD and the current branch, undefined when detached", async () => {
    const dir = await initRepo(join(await tmp.make("head"), "r"));
    expect(await currentBranch(dir)).toBe("main"); // unborn branch
    await expect(headCommit(dir)).rejects.toMatchObject({ code: "git-unknown-ref" });
    const c1 = await commit(dir, "one", { "a.txt": "a\n" });
    const c2 = await commit(dir, "two", { "a.txt": "b\n" });
    expect(await headCommit(dir)).toBe(c2);
    await g(dir, ["checkout", "--quiet", "-b", "release/1.x"]);
    expect(await currentBranch(dir)).toBe("release/1.x");
    await g(dir, ["checkout", "--quiet", "--detach", c1]);
    expect(await currentBranch(dir)).toBeUndefined();
    expect(await headCommit(dir)).toBe(c1);
  });

  it("sees modified, staged and untracked files", async () => {
    const dir = await initRepo(join(await tmp.make("dirty"), "r"));
    await commit(dir, "one", { "a.txt": "a\n", ".gitignore": "ignored/\n" });
    expect(await isDirty(dir)).toBe(false);
    await writeFile(join(dir, "ignored-not.txt"), "x");
    expect(await isDirty(dir)).toBe(true);
    expect(await isDirty(dir, { untracked: false })).toBe(false);
    await g(dir, ["clean", "-fq"]);
    await writeFile(join(dir, "a.txt"), "changed\n");
    expect(await isDirty(dir, { untracked: false })).toBe(true);
    await g(dir, ["add", "a.txt"]);
    expect(await isDirty(dir, { untracked: false })).toBe(true);
    await g(dir, ["reset", "--quiet", "--hard"]);
    await writeText(join(dir, "ignored", "x.txt"), "x\n");
    expect(await isDirty(dir)).toBe(false);
  });

  it("fails typed outside a repository", async () => {
    await expect(isDirty(await tmp.make("nr"))).rejects.toMatchObject({ code: "git-not-a-repo" });
    await expect(currentBranch(await tmp.make("nr"))).rejects.toMatchObject({ code: "git-not-a-repo" });
  });
});

describe("isAncestor", () => {
  it("answers true for ancestors, false otherwise", async () => {
    expect(await isAncestor(repo.dir, "v1.0.0", "v1.10.0")).toBe(true);
    expect(await isAncestor(repo.dir, "v1.10.0", "v1.0.0")).toBe(false);
    expect(await isAncestor(repo.dir, "v1.2.0", "feature")).toBe(true);
    expect(await isAncestor(repo.dir, "feature", "main")).toBe(false);
    expect(await isAncestor(repo.dir, "main", "main")).toBe(true);
  });

  it("names an unknown ref", async () => {
    await expect(isAncestor(repo.dir, "v1.0.0", "nope")).rejects.toMatchObject({ code: "git-unknown-ref", ref: "nope" });
  });
});

describe("resolveRefs", () => {
  it("resolves several full ref names in one call; missing ones are absent, annotated tags peeled", async () => {
    const got = await resolveRefs(repo.dir, ["refs/heads/main", "refs/heads/feature", "refs/heads/nope", "refs/tags/v1.2.0"]);
    expect(Object.fromEntries(got)).toEqual({ "refs/heads/main": repo.c.four, "refs/heads/feature": repo.c.feature, "refs/tags/v1.2.0": repo.c.two });
  });

  it("takes only full ref names: an abbreviation or an option is not looked up", async () => {
    expect((await resolveRefs(repo.dir, ["main", "HEAD"])).size).toBe(0);
    await expect(resolveRefs(repo.dir, ["refs/heads/main\nHEAD"])).rejects.toBeInstanceOf(OscdError);
  });
});
