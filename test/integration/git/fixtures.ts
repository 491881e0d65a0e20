import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { run, type RunResult } from "../../../src/core/exec.js";

/**
 * Test repositories made with the real git, never reading the user's or the system's config:
 * fixed identities and, per commit, increasing fixed dates.
 */
export const AUTHOR = { name: "Test Author", email: "author@example.com" };

let clock = Date.UTC(2024, 0, 1) / 1000;

export function fixedEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  clock += 60;
  const date = `@${clock} +0000`;
  return {
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    LC_ALL: "C",
    GIT_AUTHOR_NAME: AUTHOR.name,
    GIT_AUTHOR_EMAIL: AUTHOR.email,
    GIT_COMMITTER_NAME: "Test Committer",
    GIT_COMMITTER_EMAIL: "committer@example.com",
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
    ...extra,
  };
}

/** Runs git in dir; throws with stderr when it fails. */
export async function g(dir: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r: RunResult = await run("git", ["-C", dir, ...args], { timeoutMs: 30_000, env: fixedEnv(env) });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.trim();
}

/** Runs any program; throws with stderr when it fails. */
export async function sh(file: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<string> {
  const r = await run(file, args, { timeoutMs: 60_000, env, input });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(" ")} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.trim();
}

export class TempDirs {
  private dirs: string[] = [];

  async make(label = "git"): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), `oscd-test-${label}-`));
    this.dirs.push(d);
    return d;
  }

  async cleanup(): Promise<void> {
    const dirs = this.dirs.splice(0);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

export async function initRepo(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await g(dir, ["-c", "init.defaultBranch=main", "init", "--quiet"]);
  return dir;
}

export async function initBare(dir: string): Promise<string> {
  await g(dirname(dir), ["-c", "init.defaultBranch=main", "init", "--quiet", "--bare", dir]);
  return dir;
}

/** Writes files (path → content; a leading "#!" makes it executable), commits them, returns the id. */
export async function commit(
  repo: string,
  message: string,
  files: Record<string, string>,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(repo, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
    if (content.startsWith("#!")) await chmod(full, 0o755);
  }
  await g(repo, ["add", "--all"]);
  await g(repo, [...extraArgs, "commit", "--quiet", "--allow-empty", "-m", message], env);
  return g(repo, ["rev-parse", "HEAD"]);
}

export interface FleetRepo {
  dir: string;
  /** Commit ids by label. */
  c: { one: string; two: string; three: string; four: string; feature: string };
}

/**
 * main: one (v1.0.0 lightweight) → two (v1.2.0 annotated) → three (v1.10.0 annotated,
 * plus non-release tags) → four (v2.0.0-rc.1); feature branches off two.
 */
export async function makeFleetRepo(dir: string): Promise<FleetRepo> {
  await initRepo(dir);
  const one = await commit(dir, "first: hosts", {
    "oscd.toml": "[hosts.web1]\n",
    "hosts/web1.nix": "{ }\n",
    "bin/check.sh": "#!/bin/sh\necho ok\n",
    ".gitattributes": "secret.txt export-ignore\nversion.txt export-subst\ncrlf.txt text eol=crlf\n",
    "secret.txt": "kept by oscd even though export-ignore\n",
    "version.txt": "$Format:%H$\n",
    "crlf.txt": "line1\nline2\n",
  });
  await g(dir, ["tag", "v1.0.0"]);
  const two = await commit(dir, "second: add db1", { "hosts/db1.nix": "{ db = true; }\n" });
  await g(dir, ["tag", "-a", "-m", "release 1.2.0", "v1.2.0"]);
  const three = await commit(dir, "third: tune web1", { "hosts/web1.nix": "{ tuned = true; }\n" });
  await g(dir, ["tag", "-a", "-m", "release 1.10.0", "v1.10.0"]);
  for (const t of ["release-candidate", "v1.2", "vv3.0.0", "v4.0.0.1", "x9.9.9"]) await g(dir, ["tag", t]);
  const four = await commit(dir, "fourth: try 2.0", { "hosts/web2.nix": "{ }\n" });
  await g(dir, ["tag", "-a", "-m", "rc", "v2.0.0-rc.1"]);
  await g(dir, ["checkout", "--quiet", "-b", "feature", two]);
  const feature = await commit(dir, "feature work", { "feature.txt": "wip\n" });
  await g(dir, ["checkout", "--quiet", "main"]);
  return { dir, c: { one, two, three, four, feature } };
}

export async function writeText(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}
