import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { archiveCommit } from "../../../src/git/index.js";
import { g, makeFleetRepo, TempDirs, type FleetRepo } from "./fixtures.js";

const tmp = new TempDirs();
let repo: FleetRepo;

beforeAll(async () => {
  repo = await makeFleetRepo(join(await tmp.make("archive"), "fleet"));
});
afterAll(() => tmp.cleanup());

async function walk(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, root)));
    else out.push(relative(root, p));
  }
  return out.sort();
}

/** path → { mode, content } of every blob in the commit's tree, read raw from git. */
async function treeOf(dir: string, commit: string): Promise<Map<string, { mode: string; content: string }>> {
  const listing = await g(dir, ["ls-tree", "-r", "-z", commit]);
  const tree = new Map<string, { mode: string; content: string }>();
  for (const entry of listing.split("\0").filter((x) => x !== "")) {
    const [meta = "", path = ""] = entry.split("\t");
    const [mode = "", , blob = ""] = meta.split(" ");
    const r = await run("git", ["-C", dir, "cat-file", "blob", blob], { timeoutMs: 30_000 });
    tree.set(path, { mode, content: r.stdout });
  }
  return tree;
}

describe("archiveCommit", () => {
  it("writes exactly the commit's tree, byte for byte, without .git", async () => {
    const dest = join(await tmp.make("dest"), "src");
    const res = await archiveCommit(repo.dir, "v1.10.0", dest);
    expect(res.commit).toBe(repo.c.three);
    const tree = await treeOf(repo.dir, repo.c.three);
    const files = await walk(dest);
    expect(files).toEqual([...tree.keys()].sort());
    expect(files).not.toContain(".git");
    for (const [path, blob] of tree) {
      expect(await readFile(join(dest, path), "utf8"), path).toBe(blob.content);
      const executable = ((await stat(join(dest, path))).mode & 0o100) !== 0;
      expect(executable, path).toBe(blob.mode === "100755");
    }
    expect(tree.get("bin/check.sh")?.mode).toBe("100755");
    // Attributes in the tree do not rewrite content.
    expect(files).toContain("secret.txt");
    expect(await readFile(join(dest, "version.txt"), "utf8")).toBe("$Format:%H$\n");
    expect(await readFile(join(dest, "crlf.txt"), "utf8")).toBe("line1\nline2\n");
    expect(await readFile(join(dest, "hosts/web1.nix"), "utf8")).toBe("{ tuned = true; }\n");
  });

  it("keeps the executable bit and nothing from later commits", async () => {
    const dest = join(await tmp.make("dest"), "src");
    await archiveCommit(repo.dir, repo.c.one, dest);
    expect((await stat(join(dest, "bin/check.sh"))).mode & 0o111).not.toBe(0);
    expect((await stat(join(dest, "oscd.toml"))).mode & 0o111).toBe(0);
    expect(await readFile(join(dest, "hosts/web1.nix"), "utf8")).toBe("{ }\n");
    expect(await walk(dest)).not.toContain("hosts/db1.nix");
  });

  it("leaves the repository untouched", async () => {
    const before = await g(repo.dir, ["status", "--porcelain", "--ignored"]);
    await archiveCommit(repo.dir, "main", join(await tmp.make("dest"), "src"));
    expect(await g(repo.dir, ["status", "--porcelain", "--ignored"])).toBe(before);
    await expect(stat(join(repo.dir, ".git", "info", "attributes"))).rejects.toThrow();
  });

  it("refuses a non-empty destination and names an unknown commit", async () => {
    const dest = await tmp.make("full");
    await writeFile(join(dest, "stale.txt"), "old");
    await expect(archiveCommit(repo.dir, "main", dest)).rejects.toMatchObject({ code: "git-dest-not-empty", exitCode: 2 });
    const empty = join(await tmp.make("dest"), "src");
    await expect(archiveCommit(repo.dir, "v7.7.7", empty)).rejects.toMatchObject({ code: "git-unknown-ref", ref: "v7.7.7" });
    // A tree or a blob is not a commit, even when named by its full id.
    const tree = await g(repo.dir, ["rev-parse", "main^{tree}"]);
    await expect(archiveCommit(repo.dir, tree, empty)).rejects.toMatchObject({ code: "git-unknown-ref", ref: tree });
    await expect(readdir(empty)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
