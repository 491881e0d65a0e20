import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkArg, gitOk, type GitCallOptions, type GitInvocation } from "./run.js";

export interface FileAtCommit {
  content: string;
  /** Git's file mode, e.g. `100644`. */
  mode: string;
}

/** A file's content and mode at a commit, or undefined when the commit has no such file. */
export async function readFileAt(repoDir: string, commit: string, path: string, opts: GitCallOptions = {}): Promise<FileAtCommit | undefined> {
  checkArg(commit, "commit");
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const out = await gitOk(["ls-tree", "-z", commit, "--", path], inv, `listing ${path} at ${commit}`);
  const entry = out.split("\0").find((e) => e.endsWith(`\t${path}`));
  const m = entry === undefined ? null : /^(\d+) blob ([0-9a-f]+)\t/.exec(entry);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  const content = await gitOk(["cat-file", "blob", m[2]], inv, `reading ${path} at ${commit}`);
  return { content, mode: m[1] };
}

/**
 * Creates a commit whose parent is `parent` and whose tree is the parent's with one file
 * replaced. Neither the working tree, the index nor any ref changes: a temporary index is used.
 */
export async function commitFileChange(
  repoDir: string,
  parent: string,
  file: { path: string; content: string; mode: string },
  message: string,
  opts: GitCallOptions = {},
): Promise<string> {
  checkArg(parent, "commit");
  if (!/^100(644|755)$/.test(file.mode)) throw new Error(`not a regular file mode: ${file.mode}`);
  const tmp = await mkdtemp(join(tmpdir(), "oscd-git-index-"));
  try {
    const inv: GitInvocation = { ...opts, kind: "write", repoDir };
    const indexed: GitInvocation = { ...inv, env: { ...opts.env, GIT_INDEX_FILE: join(tmp, "index") } };
    const blob = (await gitOk(["hash-object", "-w", "--stdin"], { ...inv, input: file.content }, `storing ${file.path}`)).trim();
    await gitOk(["read-tree", parent], indexed, "reading the parent tree");
    await gitOk(["update-index", "--add", "--cacheinfo", `${file.mode},${blob},${file.path}`], indexed, `updating ${file.path}`);
    const tree = (await gitOk(["write-tree"], indexed, "writing the tree")).trim();
    return (await gitOk(["commit-tree", "--no-gpg-sign", tree, "-p", parent, "-F", "-"], { ...inv, input: message }, "creating the commit")).trim();
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
