import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CommandTimeoutError } from "../../../src/core/errors.js";
import {
  ensureMirror,
  fetch,
  fetchAll,
  GitPushRejectedError,
  GitRemoteUnreachableError,
  push,
  resolveCommit,
} from "../../../src/git/index.js";
import { commit, g, initBare, initRepo, makeFleetRepo, TempDirs } from "./fixtures.js";

const tmp = new TempDirs();
afterEach(() => tmp.cleanup());

/** A working repository with history, pushed to a bare "origin". */
async function withOrigin() {
  const root = await tmp.make("remote");
  const work = await makeFleetRepo(join(root, "work"));
  const origin = await initBare(join(root, "origin.git"));
  await g(work.dir, ["push", "--quiet", origin, "main", "feature", "--tags"]);
  return { root, work, origin };
}

describe("fetch", () => {
  it("fetches a configured remote into remote-tracking branches", async () => {
    const { root, work, origin } = await withOrigin();
    const clone = await initRepo(join(root, "clone"));
    await g(clone, ["remote", "add", "origin", origin]);
    await fetch(clone, "origin");
    expect(await resolveCommit(clone, "origin/main")).toBe(work.c.four);
    expect(await resolveCommit(clone, "origin/feature")).toBe(work.c.feature);
    expect(await resolveCommit(clone, "v1.10.0")).toBe(work.c.three); // tags following fetched history
  });

  it("fetches a URL with explicit refspecs; tags: false fetches no tags, tags: true all", async () => {
    const { root, work, origin } = await withOrigin();
    const clone = await initRepo(join(root, "clone"));
    await fetch(clone, origin, { refspecs: ["refs/heads/main:refs/heads/upstream"], tags: false });
    expect(await resolveCommit(clone, "upstream")).toBe(work.c.four);
    await expect(resolveCommit(clone, "v1.0.0")).rejects.toMatchObject({ code: "git-unknown-ref" });
    await fetch(clone, `file://${origin}`, { refspecs: ["refs/heads/feature:refs/heads/feat"], tags: true });
    expect(await resolveCommit(clone, "v2.0.0-rc.1")).toBe(work.c.four);
    expect(await resolveCommit(clone, "feat")).toBe(work.c.feature);
  });

  it("prunes remote-tracking branches deleted on the remote", async () => {
    const { root, work, origin } = await withOrigin();
    const clone = await initRepo(join(root, "clone"));
    await g(clone, ["remote", "add", "origin", origin]);
    await fetch(clone, "origin");
    await g(work.dir, ["push", "--quiet", origin, ":feature"]);
    await fetch(clone, "origin", { prune: true });
    await expect(resolveCommit(clone, "origin/feature")).rejects.toMatchObject({ code: "git-unknown-ref" });
  });

  it("reports a nonexistent remote path as unreachable, naming it", async () => {
    const { root } = await withOrigin();
    const clone = await initRepo(join(root, "clone"));
    const missing = join(root, "no-such-remote.git");
    const err = await fetch(clone, missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitRemoteUnreachableError);
    const e = err as GitRemoteUnreachableError;
    expect(e.code).toBe("git-remote-unreachable");
    expect(e.remote).toBe(missing);
    expect(e.message).toContain(missing);
    expect(e.message).toContain("does not appear to be a git repository");
    expect(e.hint).toMatch(/URL|path/);
    expect(e.command).toContain("fetch");
    expect(e.stderrTail).toContain("Could not read from remote repository");
  });

  it("names a ref the remote does not have", async () => {
    const { root, origin } = await withOrigin();
    const clone = await initRepo(join(root, "clone"));
    await expect(fetch(clone, origin, { refspecs: ["refs/heads/nope:refs/heads/nope"] })).rejects.toMatchObject({
      code: "git-unknown-ref",
      ref: "refs/heads/nope",
    });
  });

  it("fails typed when the local directory is not a repository", async () => {
    const { origin } = await withOrigin();
    await expect(fetch(await tmp.make("plain"), origin)).rejects.toMatchObject({ code: "git-not-a-repo" });
  });

  it("stops at the timeout", async () => {
    const { root, origin } = await withOrigin();
    const clone = await initRepo(join(root, "clone"));
    const err = await fetch(clone, origin, { timeoutMs: 1, refspecs: ["refs/heads/*:refs/heads/*"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandTimeoutError);
    expect((err as CommandTimeoutError).code).toBe("command-timeout");
  });
});

describe("fetchAll", () => {
  it("reports each remote, one unreachable remote not hiding the others", async () => {
    const { root, work, origin } = await withOrigin();
    const second = await initBare(join(root, "second.git"));
    await g(work.dir, ["push", "--quiet", second, "feature:main"]);
    const clone = await initRepo(join(root, "clone"));
    await g(clone, ["remote", "add", "origin", origin]);
    await g(clone, ["remote", "add", "broken", join(root, "gone.git")]);
    await g(clone, ["remote", "add", "second", second]);
    const out = await fetchAll(clone, ["origin", "broken", { remote: second, refspecs: ["main:refs/heads/from-second"] }]);
    expect(out.map((o) => [o.remote, o.ok])).toEqual([
      ["origin", true],
      ["broken", false],
      [second, true],
    ]);
    const bad = out[1];
    expect(bad && !bad.ok && bad.error.code).toBe("git-remote-unreachable");
    expect(await resolveCommit(clone, "origin/main")).toBe(work.c.four);
    expect(await resolveCommit(clone, "from-second")).toBe(work.c.feature);
  });

  it("throws when the repository itself is missing", async () => {
    const { origin } = await withOrigin();
    await expect(fetchAll(await tmp.make("plain"), [origin])).rejects.toMatchObject({ code: "git-not-a-repo" });
  });
});

describe("ensureMirror", () => {
  it("creates a bare mirror, is idempotent, updates URLs, and fetches", async () => {
    const { root, work, origin } = await withOrigin();
    const dir = join(root, "var", "mirror.git");
    const first = await ensureMirror(dir, [{ name: "origin", url: origin }]);
    expect(first).toMatchObject({ dir, created: true, added: ["origin"], updated: [], removed: [] });
    expect(await g(dir, ["rev-parse", "--is-bare-repository"])).toBe("true");
    const again = await ensureMirror(dir, [{ name: "origin", url: origin }]);
    expect(again).toMatchObject({ created: false, added: [], updated: [], removed: [] });
    await fetch(dir, "origin");
    expect(await resolveCommit(dir, "origin/main")).toBe(work.c.four);

    const moved = join(root, "moved.git");
    await g(root, ["clone", "--quiet", "--bare", origin, moved]);
    await g(dir, ["config", "--replace-all", "remote.origin.fetch", "+refs/heads/x:refs/heads/x"]);
    const upd = await ensureMirror(dir, [
      { name: "origin", url: moved },
      { name: "backup", url: origin },
    ]);
    expect(upd).toMatchObject({ added: ["backup"], updated: ["origin"] });
    expect(await g(dir, ["config", "--get", "remote.origin.url"])).toBe(moved);
    expect(await g(dir, ["config", "--get-all", "remote.origin.fetch"])).toBe("+refs/heads/*:refs/remotes/origin/*");
    const out = await fetchAll(dir, ["origin", "backup"]);
    expect(out.every((o) => o.ok)).toBe(true);
    expect(await resolveCommit(dir, "backup/feature")).toBe(work.c.feature);

    const pruned = await ensureMirror(dir, [{ name: "backup", url: origin }], { removeOthers: true });
    expect(pruned).toMatchObject({ added: [], updated: [], removed: ["origin"] });
    expect(await g(dir, ["remote"])).toBe("backup");
  });

  it("uses an existing empty directory and refuses one with other content", async () => {
    const root = await tmp.make("mirror");
    const empty = join(root, "empty");
    await mkdir(empty);
    expect((await ensureMirror(empty, [])).created).toBe(true);
    const full = join(root, "full");
    await mkdir(full);
    await writeFile(join(full, "notes.txt"), "mine");
    await expect(ensureMirror(full, [{ name: "origin", url: "/x" }])).rejects.toMatchObject({ code: "git-not-a-repo" });
    const work = await initRepo(join(root, "work"));
    await expect(ensureMirror(work, [])).rejects.toMatchObject({ code: "git-not-a-repo" });
    await expect(ensureMirror(join(root, "m"), [{ name: "a", url: "/x" }, { name: "a", url: "/y" }])).rejects.toMatchObject({
      code: "git-bad-argument",
    });
  });
});

describe("push", () => {
  it("pushes branches and tags and reports each ref", async () => {
    const { root, work } = await withOrigin();
    const target = await initBare(join(root, "target.git"));
    const refs = await push(work.dir, target, ["main", "refs/tags/v1.2.0"]);
    expect(refs.map((r) => [r.ref, r.status])).toEqual([
      ["refs/heads/main:refs/heads/main", "new"],
      ["refs/tags/v1.2.0:refs/tags/v1.2.0", "new"],
    ]);
    expect(await resolveCommit(target, "main")).toBe(work.c.four);
    const again = await push(work.dir, target, ["main"]);
    expect(again[0]?.status).toBe("up-to-date");
  });

  it("refuses a non-fast-forward with git-push-rejected; atomic pushes update nothing", async () => {
    const { root, work, origin } = await withOrigin();
    const other = join(root, "other");
    await g(root, ["clone", "--quiet", origin, other]);
    const ahead = await commit(other, "someone else's change", { "other.txt": "x\n" });
    await g(other, ["push", "--quiet", origin, "main"]);

    const mine = await commit(work.dir, "my change", { "mine.txt": "y\n" });
    await g(work.dir, ["branch", "--quiet", "new-branch", mine]);
    const err = await push(work.dir, origin, ["main", "new-branch"], { atomic: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitPushRejectedError);
    const e = err as GitPushRejectedError;
    expect(e.code).toBe("git-push-rejected");
    expect(e.remote).toBe(origin);
    expect(e.rejected.find((r) => r.ref.startsWith("refs/heads/main"))?.reason).toMatch(/non-fast-forward|fetch first/);
    expect(e.message).toContain("refs/heads/main");
    expect(e.hint).toMatch(/fetch/);
    expect(await resolveCommit(origin, "main")).toBe(ahead);
    await expect(resolveCommit(origin, "new-branch")).rejects.toMatchObject({ code: "git-unknown-ref" });

    // Without --atomic the other ref goes through.
    await expect(push(work.dir, origin, ["main", "new-branch"])).rejects.toMatchObject({ code: "git-push-rejected" });
    expect(await resolveCommit(origin, "new-branch")).toBe(mine);
  });

  it("reports an unreachable remote", async () => {
    const { root, work } = await withOrigin();
    await expect(push(work.dir, join(root, "nowhere.git"), ["main"])).rejects.toMatchObject({ code: "git-remote-unreachable" });
  });
});
