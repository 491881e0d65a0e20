import semver, { type SemVer } from "semver";
import { GitCommandError } from "./errors.js";
import { resolveCommit } from "./refs.js";
import { checkArg, FULL_ID, git, gitFailure, gitOk, type GitCallOptions, type GitInvocation } from "./run.js";
import { UsageError } from "../core/errors.js";

export interface ReleaseTag {
  /** The tag name, e.g. `v1.2.0`. */
  name: string;
  /** The semantic version after the prefix, e.g. `1.2.0`, `2.0.0-rc.1`. */
  version: string;
  /** The commit the tag points at (annotated tags peeled). */
  commit: string;
}

/**
 * The semantic version in a tag name `<prefix>X.Y.Z[-pre][+build]`, or undefined when the
 * name does not have exactly that form (no loose forms such as `vv1.2.3` or `v1.2`).
 */
export function parseReleaseTag(name: string, prefix: string): SemVer | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  const v = semver.parse(rest);
  if (v === null) return undefined;
  const canonical = v.build.length > 0 ? `${v.version}+${v.build.join(".")}` : v.version;
  return canonical === rest ? v : undefined;
}

/** Ascending by semantic version (highest last); ties broken by build metadata, then name. */
export function compareReleaseTags(a: { name: string; version: string }, b: { name: string; version: string }): number {
  return semver.compareBuild(a.version, b.version) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Tags named `<prefix>` + a semantic version (prereleases included) that point at a commit,
 * sorted by version, highest last. Other tags are ignored.
 */
export async function listReleaseTags(repoDir: string, prefix = "v", opts: GitCallOptions = {}): Promise<ReleaseTag[]> {
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const out = await gitOk(["for-each-ref", "--format=%(refname)", "refs/tags/"], inv, "listing tags");
  const candidates: { name: string; version: string }[] = [];
  for (const ref of out.split("\n")) {
    if (!ref.startsWith("refs/tags/")) continue;
    const name = ref.slice("refs/tags/".length);
    const v = parseReleaseTag(name, prefix);
    if (v) candidates.push({ name, version: v.raw });
  }
  if (candidates.length === 0) return [];
  // One process peels every tag: `<oid> commit` or `<input> missing` (tag of a tree or blob).
  const r = await git(["cat-file", "--batch-check=%(objectname) %(objecttype)"], {
    ...inv,
    input: candidates.map((c) => `refs/tags/${c.name}^{commit}\n`).join(""),
  });
  if (r.exitCode !== 0) throw gitFailure(r, inv, "peeling tags");
  const lines = r.stdout.split("\n");
  const tags: ReleaseTag[] = [];
  candidates.forEach((c, i) => {
    const [oid, type] = (lines[i] ?? "").split(" ");
    if (type === "commit" && oid !== undefined && FULL_ID.test(oid)) tags.push({ ...c, commit: oid });
  });
  return tags.sort(compareReleaseTags);
}

export interface LatestOptions extends GitCallOptions {
  /** Consider prereleases (`v2.0.0-rc.1`). Default false: the latest release is a stable one. */
  includePrerelease?: boolean;
}

/** The highest release tag, or undefined when there is none. */
export async function latestReleaseTag(
  repoDir: string,
  prefix = "v",
  opts: LatestOptions = {},
): Promise<ReleaseTag | undefined> {
  const tags = await listReleaseTags(repoDir, prefix, opts);
  const eligible = opts.includePrerelease ? tags : tags.filter((t) => semver.prerelease(t.version) === null);
  return eligible[eligible.length - 1];
}

export interface CreateTagOptions extends GitCallOptions {
  /** Tagger identity; default: the repository's (or, unless globalConfig is false, the user's) user.name/email. */
  tagger?: { name: string; email: string };
}

/** Creates the annotated tag `name` on `commit`. An existing tag is an error (`git-tag-exists`). */
export async function createTag(
  repoDir: string,
  name: string,
  commit: string,
  message: string,
  opts: CreateTagOptions = {},
): Promise<{ name: string; commit: string }> {
  checkArg(name, "tag name");
  const inv: GitInvocation = { ...opts, kind: "write", repoDir };
  const fmt = await git(["check-ref-format", `refs/tags/${name}`], inv);
  if (fmt.exitCode !== 0) {
    throw new UsageError(`invalid tag name ${JSON.stringify(name)}`, "see `git check-ref-format --help` for the rules", "git-bad-argument");
  }
  const id = await resolveCommit(repoDir, commit, opts);
  if (opts.tagger) {
    inv.env = {
      ...inv.env,
      GIT_COMMITTER_NAME: opts.tagger.name,
      GIT_COMMITTER_EMAIL: opts.tagger.email,
    };
  }
  const r = await git(["tag", "--annotate", "--no-sign", "--file=-", "--", name, id], { ...inv, input: message });
  if (r.exitCode === 0) return { name, commit: id };
  if (/already exists/.test(r.stderr)) {
    throw new GitCommandError(r, `tag ${name} already exists in ${repoDir}`, "release tags are never moved: choose the next version", "git-tag-exists");
  }
  throw gitFailure(r, inv, `creating tag ${name}`);
}

/** True when `refs/tags/<name>` exists. */
export async function tagExists(repoDir: string, name: string, opts: GitCallOptions = {}): Promise<boolean> {
  checkArg(name, "tag name");
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const r = await git(["rev-parse", "--verify", "--quiet", "--end-of-options", `refs/tags/${name}`], inv);
  if (r.exitCode === 0) return true;
  if (r.exitCode === 1) return false;
  throw gitFailure(r, inv, `checking tag ${name}`);
}

/** Deletes a local tag (e.g. to undo the tags of a release that was not pushed). */
export async function deleteTag(repoDir: string, name: string, opts: GitCallOptions = {}): Promise<void> {
  checkArg(name, "tag name");
  await gitOk(["update-ref", "-d", `refs/tags/${name}`], { ...opts, kind: "write", repoDir }, `deleting tag ${name}`);
}
