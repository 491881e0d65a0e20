import { mkdir, readdir, realpath } from "node:fs/promises";
import { resolve } from "node:path";
import { UsageError } from "../core/errors.js";
import { checkArg, git, gitOk, type GitCallOptions, type GitInvocation } from "./run.js";

export interface MirrorRemote {
  name: string;
  url: string;
}

export interface MirrorOptions extends GitCallOptions {
  /** Also remove configured remotes not in the list. Default false. */
  removeOthers?: boolean;
}

export interface MirrorResult {
  dir: string;
  created: boolean;
  added: string[];
  updated: string[];
  removed: string[];
}

async function isEmptyDir(dir: string): Promise<boolean | undefined> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** True when dir itself is the git directory of a bare repository (not a folder inside another repository). */
async function isBareRepo(dir: string, opts: GitCallOptions): Promise<boolean> {
  const r = await git(["rev-parse", "--absolute-git-dir", "--is-bare-repository"], { ...opts, kind: "read", repoDir: dir });
  if (r.exitCode !== 0) return false;
  const [gitDir, bare] = r.stdout.trim().split("\n");
  return bare === "true" && gitDir !== undefined && (await realpath(gitDir)) === (await realpath(dir));
}

/**
 * Makes dir a bare repository (created when missing or empty) whose remotes include exactly
 * the given names and URLs, each fetching its branches into `refs/remotes/<name>/*`.
 * Used by the pull agent to keep a local mirror of the fleet repository.
 */
export async function ensureMirror(
  dir: string,
  remotes: readonly MirrorRemote[],
  opts: MirrorOptions = {},
): Promise<MirrorResult> {
  const abs = resolve(dir);
  for (const r of remotes) {
    checkArg(r.name, "remote name");
    checkArg(r.url, "remote URL");
  }
  const names = new Set<string>();
  for (const r of remotes) {
    if (names.has(r.name)) throw new UsageError(`remote ${r.name} is listed twice`, "give each remote a distinct name", "git-bad-argument");
    names.add(r.name);
  }
  const result: MirrorResult = { dir: abs, created: false, added: [], updated: [], removed: [] };
  const empty = await isEmptyDir(abs);
  if (empty === undefined || empty) {
    await mkdir(abs, { recursive: true });
    // Without templates or the user's config: no hooks or defaults from the environment.
    await gitOk(["init", "--quiet", "--bare", "--template=", abs], { ...opts, kind: "read" }, "git init");
    result.created = true;
  } else if (!(await isBareRepo(abs, opts))) {
    throw new UsageError(
      `${abs} exists but is not a bare git repository`,
      "point the mirror at a new or empty directory, or remove this one",
      "git-not-a-repo",
    );
  }
  const inv: GitInvocation = { ...opts, kind: "write", repoDir: abs };
  const existing = new Map<string, string>();
  for (const name of (await gitOk(["remote"], inv, "git remote")).split("\n").filter((n) => n !== "")) {
    const url = await git(["config", "--get", `remote.${name}.url`], inv);
    existing.set(name, url.stdout.trim());
  }
  for (const r of remotes) {
    const refspec = `+refs/heads/*:refs/remotes/${r.name}/*`;
    if (!existing.has(r.name)) {
      await gitOk(["remote", "add", "--", r.name, r.url], inv, `adding remote ${r.name}`);
      result.added.push(r.name);
      continue;
    }
    const fetchSpecs = (await git(["config", "--get-all", `remote.${r.name}.fetch`], inv)).stdout.trim();
    if (existing.get(r.name) !== r.url || fetchSpecs !== refspec) {
      await gitOk(["remote", "set-url", "--", r.name, r.url], inv, `setting the URL of remote ${r.name}`);
      await gitOk(["config", "--replace-all", `remote.${r.name}.fetch`, refspec], inv, `setting the refspec of remote ${r.name}`);
      result.updated.push(r.name);
    }
  }
  if (opts.removeOthers) {
    for (const name of existing.keys()) {
      if (names.has(name)) continue;
      await gitOk(["remote", "remove", "--", name], inv, `removing remote ${name}`);
      result.removed.push(name);
    }
  }
  return result;
}
