import { resolveCommit } from "./refs.js";
import { checkArg, gitOk, type GitCallOptions, type GitInvocation } from "./run.js";

export interface CommitInfo {
  /** Full commit id. */
  id: string;
  author: string;
  authorEmail: string;
  /** Author date, strict ISO 8601 with the author's offset (e.g. `2024-01-02T03:04:05+00:00`). */
  date: string;
  /** First line of the message. */
  subject: string;
}

// Fields separated by US (0x1f); `-z` separates commits with NUL.
const FORMAT = "--format=%H%x1f%an%x1f%ae%x1f%aI%x1f%s";

function parseCommits(stdout: string): CommitInfo[] {
  return stdout
    .split("\0")
    .map((rec) => rec.replace(/^\n/, ""))
    .filter((rec) => rec !== "")
    .map((rec) => {
      const [id = "", author = "", authorEmail = "", date = "", subject = ""] = rec.split("\x1f");
      return { id, author, authorEmail, date, subject };
    });
}

/** Id, author, date and subject of one commit. */
export async function commitInfo(repoDir: string, commit: string, opts: GitCallOptions = {}): Promise<CommitInfo> {
  const id = await resolveCommit(repoDir, commit, opts);
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const [info] = parseCommits(await gitOk(["log", "-z", "-1", "--no-show-signature", FORMAT, id], inv, "git log"));
  if (!info) throw new Error(`git log printed nothing for ${id}`);
  return info;
}

export interface LogOptions extends GitCallOptions {
  maxCount?: number;
}

/**
 * Commits reachable from `to` but not from `from` (`from..to`), newest first: the changes a
 * release brings. With `from` undefined, all history of `to`.
 */
export async function log(
  repoDir: string,
  from: string | undefined,
  to: string,
  opts: LogOptions = {},
): Promise<CommitInfo[]> {
  const toId = await resolveCommit(repoDir, to, opts);
  const range = from === undefined ? toId : `${await resolveCommit(repoDir, from, opts)}..${toId}`;
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const args = ["log", "-z", "--no-show-signature", FORMAT];
  if (opts.maxCount !== undefined) args.push(`--max-count=${Math.max(0, Math.floor(opts.maxCount))}`);
  args.push(range, "--");
  return parseCommits(await gitOk(args, inv, "git log"));
}

export interface TrailerOptions extends GitCallOptions {
  maxCount?: number;
}

/** The values of one trailer (`Key: value` at a message's end) on the commits in `from..to` (all of `to` without `from`). */
export async function trailerValues(repoDir: string, from: string | undefined, to: string, key: string, opts: TrailerOptions = {}): Promise<string[]> {
  checkArg(to, "ref");
  if (from !== undefined) checkArg(from, "ref");
  if (!/^[A-Za-z0-9-]+$/.test(key)) throw new Error(`not a trailer key: ${JSON.stringify(key)}`);
  const range = from === undefined ? to : `${from}..${to}`;
  const args = ["log", "--no-show-signature", `--format=%(trailers:key=${key},valueonly)`];
  if (opts.maxCount !== undefined) args.push(`--max-count=${Math.max(0, Math.floor(opts.maxCount))}`);
  const out = await gitOk([...args, range, "--"], { ...opts, kind: "read", repoDir }, "reading trailers");
  return out.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}
