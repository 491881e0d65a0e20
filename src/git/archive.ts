import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { UsageError } from "../core/errors.js";
import { run } from "../core/exec.js";
import { GitCommandError } from "./errors.js";
import { resolveCommitAndObjects } from "./refs.js";
import { gitOk, type GitCallOptions, type GitInvocation } from "./run.js";

/**
 * Attributes that make `git archive` write blobs byte for byte: no export-ignore, no
 * export-subst, no end-of-line conversion, no filters. info/attributes wins over the
 * .gitattributes files in the tree.
 */
const RAW_ATTRIBUTES = "* -export-ignore -export-subst -text -eol -filter -ident -working-tree-encoding\n";

/** Default timeout of each of the archive and extract steps: large trees take a while. */
const ARCHIVE_TIMEOUT_MS = 120_000;

async function ensureEmptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length > 0) {
    throw new UsageError(
      `${dir} is not empty (${entries.length} entries); refusing to extract a commit over other files`,
      "pass a new or empty directory",
      "git-dest-not-empty",
    );
  }
}

/**
 * Writes exactly the tree of `commit` (no .git, no attribute-driven rewriting) into destDir,
 * which must be missing or empty. Submodules are not included. Returns the full commit id.
 */
export async function archiveCommit(
  repoDir: string,
  commit: string,
  destDir: string,
  opts: GitCallOptions = {},
): Promise<{ commit: string }> {
  const { id, commonDir, format } = await resolveCommitAndObjects(repoDir, commit, opts);
  const dest = resolve(destDir);
  await ensureEmptyDir(dest);
  const tmp = await mkdtemp(join(tmpdir(), "oscd-archive-"));
  try {
    // A scratch repository borrowing the objects, so neither the repository's config nor its
    // attributes change what is written, and the repository itself is not touched.
    const scratch = join(tmp, "scratch.git");
    const timeoutMs = opts.timeoutMs ?? ARCHIVE_TIMEOUT_MS;
    const tinv: GitInvocation = { ...opts, timeoutMs, kind: "read" };
    await gitOk(["init", "--quiet", "--bare", "--template=", `--object-format=${format}`, scratch], tinv, "git init");
    await mkdir(join(scratch, "objects", "info"), { recursive: true });
    await mkdir(join(scratch, "info"), { recursive: true });
    await writeFile(join(scratch, "objects", "info", "alternates"), `${commonDir}/objects\n`);
    await writeFile(join(scratch, "info", "attributes"), RAW_ATTRIBUTES);
    const tar = join(tmp, "tree.tar");
    await gitOk(["-c", "tar.umask=0022", "archive", "--format=tar", `--output=${tar}`, id], { ...tinv, repoDir: scratch }, "git archive");
    const r = await run("tar", ["-x", "-f", tar, "-C", dest, "--no-same-owner"], {
      timeoutMs,
      missingHint: "install tar (Debian: apt-get install tar)",
    });
    if (r.exitCode !== 0) {
      throw new GitCommandError(r, `extracting commit ${id} into ${dest} failed`, "check free space and permissions of the destination", "git-archive-failed");
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { commit: id };
}
