import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTag, latestReleaseTag, listReleaseTags, resolveCommit } from "../../../src/git/index.js";
import { commit, g, initRepo, makeFleetRepo, TempDirs, type FleetRepo } from "./fixtures.js";

const tmp = new TempDirs();
let repo: FleetRepo;

beforeAll(async () => {
  repo = await makeFleetRepo(join(await tmp.make("tags"), "fleet"));
});
afterAll(() => tmp.cleanup());

describe("listReleaseTags", () => {
  it("sorts by semantic version (v1.10.0 after v1.2.0), prerelease included, others ignored", async () => {
    const tags = await listReleaseTags(repo.dir);
    expect(tags).toEqual([
      { name: "v1.0.0", version: "1.0.0", commit: repo.c.one },
      { name: "v1.2.0", version: "1.2.0", commit: repo.c.two },
      { name: "v1.10.0", version: "1.10.0", commit: repo.c.three },
      { name: "v2.0.0-rc.1", version: "2.0.0-rc.1", commit: repo.c.four },
    ]);
  });

  it("peels annotated tags to commits", async () => {
    const [, v12] = await listReleaseTags(repo.dir);
    expect(await g(repo.dir, ["cat-file", "-t", "v1.2.0"])).toBe("tag");
    expect(v12?.commit).toBe(repo.c.two);
  });

  it("uses the prefix given", async () => {
    expect(await listReleaseTags(repo.dir, "x")).toEqual([{ name: "x9.9.9", version: "9.9.9", commit: repo.c.three }]);
    expect(await listReleaseTags(repo.dir, "release-")).toEqual([]);
    const bare = (await listReleaseTags(repo.dir, "")).map((t) => t.name);
    expect(bare).toEqual([]);
  });

  it("skips release-looking tags that point at a tree", async () => {
    const dir = await initRepo(join(await tmp.make("treetag"), "r"));
    const c = await commit(dir, "one", { "a.txt": "a\n" });
    await g(dir, ["tag", "v1.0.0", c]);
    await g(dir, ["tag", "v3.0.0", "HEAD^{tree}"]);
    expect(await listReleaseTags(dir)).toEqual([{ name: "v1.0.0", version: "1.0.0", commit: c }]);
  });

  it("returns nothing for a repository without tags, and fails typed outside one", async () => {
    const dir = await initRepo(join(await tmp.make("notags"), "r"));
    expect(await listReleaseTags(dir)).toEqual([]);
    expect(await latestReleaseTag(dir)).toBeUndefined();
    await expect(listReleaseTags(await tmp.make("plain"))).rejects.toMatchObject({ code: "git-not-a-repo" });
  });
});

describe("latestReleaseTag", () => {
  it("is the highest stable release unless prereleases are asked for", async () => {
    expect((await latestReleaseTag(repo.dir))?.name).toBe("v1.10.0");
    expect((await latestReleaseTag(repo.dir, "v", { includePrerelease: true }))?.name).toBe("v2.0.0-rc.1");
  });
});

describe("createTag", () => {
  it("creates an annotated tag with message and tagger", async () => {
    const dir = await initRepo(join(await tmp.make("mktag"), "r"));
    const c1 = await commit(dir, "one", { "a.txt": "a\n" });
    await commit(dir, "two", { "a.txt": "b\n" });
    const made = await createTag(dir, "v1.0.0", "HEAD~1", "Release 1.0.0\n\n- first\n", {
      tagger: { name: "Release Bot", email: "bot@example.com" },
    });
    expect(made).toEqual({ name: "v1.0.0", commit: c1 });
    expect(await g(dir, ["cat-file", "-t", "v1.0.0"])).toBe("tag");
    expect(await g(dir, ["tag", "-l", "--format=%(taggername) %(taggeremail)|%(contents)", "v1.0.0"])).toBe(
      "Release Bot <bot@example.com>|Release 1.0.0\n\n- first",
    );
    expect(await resolveCommit(dir, "v1.0.0")).toBe(c1);
    expect((await latestReleaseTag(dir))?.commit).toBe(c1);
  });

  it("never moves an existing tag, and refuses bad names and unknown commits", async () => {
    const dir = await initRepo(join(await tmp.make("mktag2"), "r"));
    const c1 = await commit(dir, "one", { "a.txt": "a\n" });
    const tagger = { name: "Bot", email: "bot@example.com" };
    await createTag(dir, "v1.0.0", c1, "first", { tagger });
    await commit(dir, "two", { "a.txt": "b\n" });
    const err = await createTag(dir, "v1.0.0", "HEAD", "again", { tagger }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "git-tag-exists" });
    expect((err as Error).message).toContain("v1.0.0");
    expect(await resolveCommit(dir, "v1.0.0")).toBe(c1);
    await expect(createTag(dir, "bad..name", c1, "x", { tagger })).rejects.toMatchObject({ code: "git-bad-argument" });
    await expect(createTag(dir, "-f", c1, "x", { tagger })).rejects.toMatchObject({ code: "git-bad-argument" });
    await expect(createTag(dir, "v2.0.0", "nope", "x", { tagger })).rejects.toMatchObject({ code: "git-unknown-ref", ref: "nope" });
  });
});
