import { afterEach } from "vitest";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { run } from "../../../src/core/exec.js";

/**
 * A bare repository as `origin`, a clone to release from (`work`, the CI checkout) and, on
 * demand, other clones that push competing commits. Real git; no global or system config;
 * a fixed identity, passed to the code under test through `env` too.
 */
export const ENV: Record<string, string> = {
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_TERMINAL_PROMPT: "0",
  GIT_AUTHOR_NAME: "oscd release tests",
  GIT_AUTHOR_EMAIL: "release-tests@oscd.invalid",
  GIT_COMMITTER_NAME: "oscd release tests",
  GIT_COMMITTER_EMAIL: "release-tests@oscd.invalid",
};

export const FIXTURES = join(import.meta.dirname, "..", "..", "fixtures", "github");

export async function git(dir: string, args: string[], env: Record<string, string | undefined> = ENV): Promise<string> {
  const r = await run("git", ["-C", dir, ...args], { timeoutMs: 30_000, env });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")} in ${dir} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.trim();
}

export class ReleaseRepos {
  private clones = 0;

  private constructor(
    readonly root: string,
    readonly origin: string,
    readonly work: string,
  ) {}

  /** origin with one commit on `branch`: VERSION (and any other files), cloned into `work`. */
  static async create(opts: { version?: string; files?: Record<string, string>; branch?: string } = {}): Promise<ReleaseRepos> {
    const root = await mkdtemp(join(tmpdir(), "oscd-release-"));
    const branch = opts.branch ?? "main";
    const origin = join(root, "origin.git");
    const seed = join(root, "seed");
    await git(root, ["init", "-q", "--bare", "-b", branch, origin]);
    await git(root, ["init", "-q", "-b", branch, seed]);
    const files = { VERSION: `${opts.version ?? "1.2.3"}\n`, "hosts/web1.nix": "{ }\n", ...opts.files };
    for (const [p, content] of Object.entries(files)) {
      await mkdir(dirname(join(seed, p)), { recursive: true });
      await writeFile(join(seed, p), content);
    }
    await git(seed, ["add", "-A"]);
    await git(seed, ["commit", "-q", "-m", "Initial fleet"]);
    await git(seed, ["push", "-q", origin, `${branch}:${branch}`]);
    const work = join(root, "work");
    await git(root, ["clone", "-q", origin, work]);
    return new ReleaseRepos(root, origin, work);
  }

  /** A fresh clone of origin (a developer or another CI job). */
  async clone(): Promise<string> {
    const dir = join(this.root, `clone-${++this.clones}`);
    await git(this.root, ["clone", "-q", this.origin, dir]);
    return dir;
  }

  /** Commits a file in `dir` and pushes the branch to origin: origin's branch moves. */
  async pushCompeting(dir: string, path: string, content: string, branch = "main"): Promise<string> {
    await git(dir, ["pull", "-q", "--ff-only", "origin", branch]);
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
    await git(dir, ["add", "-A"]);
    await git(dir, ["commit", "-q", "-m", `competing change to ${path}`]);
    await git(dir, ["push", "-q", "origin", `HEAD:${branch}`]);
    return git(dir, ["rev-parse", "HEAD"]);
  }

  /** Commits files in the work clone (not pushed). */
  async commitWork(files: Record<string, string>, message = "change"): Promise<string> {
    for (const [p, content] of Object.entries(files)) {
      await mkdir(dirname(join(this.work, p)), { recursive: true });
      await writeFile(join(this.work, p), content);
    }
    await git(this.work, ["add", "-A"]);
    await git(this.work, ["commit", "-q", "-m", message]);
    return git(this.work, ["rev-parse", "HEAD"]);
  }

  /** Tag name → commit, for tags in a repository (origin by default). */
  async tags(dir = this.origin): Promise<Record<string, string>> {
    const out = await git(dir, ["for-each-ref", "--format=%(refname:short) %(*objectname)%(objectname)", "refs/tags/"]);
    const tags: Record<string, string> = {};
    for (const line of out.split("\n").filter(Boolean)) {
      const [name, ids] = line.split(" ") as [string, string];
      // annotated: *objectname (the commit) then objectname (the tag object); lightweight: only objectname
      tags[name] = ids.length === 80 ? ids.slice(0, 40) : ids;
    }
    return tags;
  }

  async head(dir: string, ref = "HEAD"): Promise<string> {
    return git(dir, ["rev-parse", `${ref}^{commit}`]);
  }

  async fileAt(dir: string, rev: string, path: string): Promise<string> {
    return git(dir, ["show", `${rev}:${path}`]);
  }

  async cleanup(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

type Json = Record<string, unknown>;

/** The merged pull_request fixture with the given labels (and other changes), written to a file in `dir`. */
export async function writeEvent(dir: string, labels: string[] | undefined, change: (ev: Json & { pull_request: Json }) => void = () => {}, fixture = "pull_request.closed.merged.json"): Promise<string> {
  const ev = JSON.parse(await readFile(join(FIXTURES, fixture), "utf8")) as Json & { pull_request: Json & { labels: Json[] } };
  if (labels !== undefined) {
    ev.pull_request.labels = labels.map((name, i) => ({ id: 7000 + i, node_id: `LA_test${i}`, url: `https://api.github.com/repos/example-org/fleet/labels/${encodeURIComponent(name)}`, name, color: "ededed", default: false, description: null }));
  }
  change(ev);
  const file = join(dir, `event-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(ev));
  return file;
}

/**
 * Repositories for one test at a time, removed after each test: call inside a test file's
 * top level; `setup()` makes them.
 */
export function reposPerTest(): (opts?: Parameters<typeof ReleaseRepos.create>[0]) => Promise<ReleaseRepos> {
  let repos: ReleaseRepos | undefined;
  afterEach(async () => {
    await repos?.cleanup();
    repos = undefined;
  });
  return async (opts = {}) => {
    repos = await ReleaseRepos.create(opts);
    return repos;
  };
}
