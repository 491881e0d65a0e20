import { resolve as resolvePath } from "node:path";
import semver from "semver";
import {
  checkoutDetached,
  commitFileChange,
  createTag,
  currentBranch,
  deleteTag,
  fastForward,
  fetch,
  headCommit,
  isAncestor,
  isDirty,
  latestReleaseTag,
  readFileAt,
  remoteUrl,
  repoRoot,
  resolveCommit,
  remoteHead,
  tagExists,
  trailerValues,
  type GitCallOptions,
} from "../git/index.js";
import { loadFleet, type ReleaseConfig } from "../fleet/index.js";
import { parseLevel, parseStrategy, planBump, type Level, type Strategy } from "./bump.js";
import { asReleaseError, ReleaseInputError, ReleaseRefusedError } from "./errors.js";
import { eventSkipReason, readPullRequestEvent, type PullRequestEvent } from "./event.js";
import { levelsFromLabels } from "./labels.js";
import { commitMessage, pullRequestKey, PULL_REQUEST_TRAILER, tagMessage, type PullRequestRef } from "./notes.js";
import { pushWithRetry, type Prepared } from "./push-with-retry.js";
import { checkEventRepository, expectedRepository } from "./repository.js";
import { parseVersionFile, versionFilePath } from "./version-file.js";
import { dryRunPlan, type DryRunPlan } from "../core/dry-run.js";
import { redactUrl } from "../core/redact-url.js";

export interface ReleasedVersion {
  level: Level;
  from: string;
  version: string;
  tag: string;
  /** The release commit (it changes only the version file); the tag points at it. */
  commit: string;
}

/** What `release bump` and `release from-event` did, or why they did nothing (printed with --json). */
export interface ReleaseResult {
  status: "released" | "nothing-to-do";
  /** Why nothing happened. */
  reason?: string;
  releases: ReleasedVersion[];
  /** The commit the releases were made on, and the branch head after them. */
  base?: string;
  head?: string;
  branch?: string;
  remote?: string;
  pushed: boolean;
  /** Push attempts (more than 1 when the branch moved meanwhile). */
  attempts: number;
  /** Whether the local checkout was moved to the new head. */
  checkout: "advanced" | "unchanged";
  /** With `dryRun`: the commits, tags and push a real run would make (and `releases` is empty). */
  plan?: DryRunPlan;
  pullRequest?: PullRequestRef & { labels: string[] };
}

export interface ReleaseCommonOptions {
  /** The fleet repository (any directory inside it). */
  repoDir: string;
  /** Push the commits and tags (atomically) to `remote`. */
  push?: boolean;
  /** Default `origin`. */
  remote?: string;
  /** Override `release.strategy` of oscd.toml. */
  strategy?: string;
  /** Extra environment for git (identity, GIT_SSH_COMMAND). */
  env?: Record<string, string | undefined>;
  /** Make every check, commit, tag, push and move nothing; the result's `plan` says what a real run would. */
  dryRun?: boolean;
}

function short(id: string): string {
  return id.slice(0, 12);
}

function nothing(reason: string, extra: Partial<ReleaseResult> = {}): ReleaseResult {
  return { status: "nothing-to-do", reason, releases: [], pushed: false, attempts: 0, checkout: "unchanged", ...extra };
}

interface Cut {
  releases: ReleasedVersion[];
  head: string;
  rollback: () => Promise<void>;
}

/**
 * Makes the release commits and tags on top of `base`, one per step, without touching the
 * working tree or any branch: each commit changes only the version file, each tag is
 * annotated with the release notes. Refuses an existing tag and a version that would not be
 * the newest release.
 */
async function checkCut(repoDir: string, base: string, cfg: ReleaseConfig, levels: readonly Level[], strategy: Strategy, git: GitCallOptions) {
  const path = versionFilePath(cfg.versionFile);
  const file = await readFileAt(repoDir, base, path, git);
  if (file === undefined) {
    throw new ReleaseInputError(
      "release-version-file-missing",
      `${path} does not exist at ${short(base)}`,
      `add ${path} with the current version (e.g. 0.1.0) in a commit, or set release.versionFile in oscd.toml`,
    );
  }
  const current = parseVersionFile(file.content, `${path} at ${short(base)}`);
  const steps = planBump(current.version, levels, strategy);
  const tags = steps.map((s) => `${cfg.tagPrefix}${s.version}`);
  for (const tag of tags) {
    if (await tagExists(repoDir, tag, git)) {
      throw new ReleaseRefusedError("release-tag-exists", `tag ${tag} already exists`, `release tags are never moved; ${path} (${current.version}) is behind the tags: set it to the latest release in a commit, then release again`);
    }
  }
  const latest = await latestReleaseTag(repoDir, cfg.tagPrefix, git);
  const first = steps[0];
  if (latest !== undefined && first !== undefined && semver.lte(first.version, latest.version)) {
    throw new ReleaseRefusedError(
      "release-not-newest",
      `${tags[0]} would not be the newest release: ${latest.name} exists`,
      `${path} (${current.version}) is behind the tags: set it to ${latest.version} in a commit, then release again`,
    );
  }
  return { path, file, current, steps, tags };
}

/**
 * What cutReleases would make on `base` (`--dry-run`), after every check it makes: one commit
 * changing the version file and one annotated tag per step. Nothing is written.
 */
function cutPlan(plan: DryRunPlan, c: Awaited<ReturnType<typeof checkCut>>, base: string, branch: string | undefined): void {
  let parent = short(base);
  for (const [i, step] of c.steps.entries()) {
    plan.steps.push({ action: "commit", target: branch ?? "HEAD (detached)", detail: `${c.path}: ${step.from} → ${step.version} (${step.level}), on ${parent}` });
    plan.steps.push({ action: "tag", target: c.tags[i] as string, detail: "annotated, on that commit" });
    parent = "the commit before";
  }
}

function pushPlan(plan: DryRunPlan, remote: string, url: string | undefined, branch: string, tags: readonly string[]): void {
  plan.steps.push({ action: "push", target: `${remote} (${url ? redactUrl(url) : "no URL"})`, detail: `atomically: ${branch} and ${tags.join(", ")}` });
}

async function cutReleases(repoDir: string, base: string, cfg: ReleaseConfig, levels: readonly Level[], strategy: Strategy, pr: PullRequestRef | undefined, git: GitCallOptions): Promise<Cut> {
  const { path, file, current, steps, tags } = await checkCut(repoDir, base, cfg, levels, strategy, git);
  const releases: ReleasedVersion[] = [];
  let parent = base;
  const created: string[] = [];
  const rollback = async () => {
    for (const t of created.splice(0).reverse()) await deleteTag(repoDir, t, git);
  };
  try {
    for (const [i, step] of steps.entries()) {
      const tag = tags[i] as string;
      const commit = await commitFileChange(repoDir, parent, { path, content: `${step.version}${current.eol}`, mode: file.mode }, commitMessage(tag, step, pr), git);
      await createTag(repoDir, tag, commit, tagMessage(tag, step, pr), git);
      created.push(tag);
      releases.push({ ...step, tag, commit });
      parent = commit;
    }
  } catch (e) {
    await rollback();
    throw asReleaseError(e, repoDir);
  }
  return { releases, head: parent, rollback };
}

function refspecs(branch: string, cut: Cut): string[] {
  return [`${cut.head}:refs/heads/${branch}`, ...cut.releases.map((r) => `refs/tags/${r.tag}`)];
}

async function refuseDirty(root: string, git: GitCallOptions): Promise<void> {
  if (await isDirty(root, git)) {
    throw new ReleaseRefusedError("release-dirty-tree", `the working tree of ${root} has uncommitted changes`, "commit or stash them first: a release is made from committed content only");
  }
}

export interface BumpOptions extends ReleaseCommonOptions {
  /** `major`, `minor`, `patch`, one or more. */
  levels: readonly string[];
}

/**
 * `oscd release bump`: bumps the version file on the checked-out commit, one commit and
 * annotated tag per level (sequential) or for the highest level only, moves the checkout to
 * the new head and, with `push`, pushes branch and tags atomically. A rejected push leaves no
 * tag behind and the branch where it was.
 */
export async function releaseBump(o: BumpOptions): Promise<ReleaseResult> {
  const git: GitCallOptions = { env: o.env };
  if (o.levels.length === 0) throw new ReleaseInputError("release-bad-level", "no release level given", "name one or more of major, minor, patch");
  const levels = o.levels.map(parseLevel);
  const root = await repoRoot(o.repoDir, git);
  const cfg = (await loadFleet(root)).config.release;
  const strategy = parseStrategy(o.strategy ?? cfg.strategy);
  await refuseDirty(root, git);
  const branch = await currentBranch(root, git);
  const remote = o.remote ?? "origin";
  if (o.push && branch === undefined) {
    throw new ReleaseInputError("release-detached-head", "HEAD is detached: there is no branch to push the release to", `check out the release branch (${cfg.branch}) first`);
  }
  if (o.dryRun) {
    const base = await headCommit(root, git);
    const c = await checkCut(root, base, cfg, levels, strategy, git);
    const plan = dryRunPlan("release bump", [`checked the working tree, ${c.path} at ${short(base)} and the tags`]);
    cutPlan(plan, c, base, branch);
    if (o.push && branch !== undefined) pushPlan(plan, remote, await remoteUrl(root, remote, git), branch, c.tags);
    plan.steps.push({ action: "move", target: branch ?? "HEAD", detail: `the checkout of ${root} to the last release commit` });
    return { ...nothing("dry run"), status: "nothing-to-do", base, head: base, branch, plan };
  }
  let cut: Cut;
  let base = "";
  let pushed = false;
  let attempts = 0;
  if (o.push && branch !== undefined) {
    const out = await pushWithRetry<Cut>({
      repoDir: root,
      remote,
      branch,
      maxAttempts: 1,
      refresh: async () => {},
      prepare: async (): Promise<Prepared<Cut>> => {
        base = await headCommit(root, git);
        const c = await cutReleases(root, base, cfg, levels, strategy, undefined, git);
        return { kind: "push", refspecs: refspecs(branch, c), value: c, rollback: c.rollback };
      },
      git: git,
    });
    ({ value: cut, pushed, attempts } = out);
  } else {
    base = await headCommit(root, git);
    cut = await cutReleases(root, base, cfg, levels, strategy, undefined, git);
  }
  if (branch !== undefined) await fastForward(root, cut.head, git);
  else await checkoutDetached(root, cut.head, git);
  return {
    status: "released",
    releases: cut.releases,
    base,
    head: cut.head,
    branch,
    remote: pushed ? remote : undefined,
    pushed,
    attempts,
    checkout: "advanced",
  };
}

export interface FromEventOptions extends ReleaseCommonOptions {
  /** The event payload file ($GITHUB_EVENT_PATH), or the parsed event. */
  eventFile?: string;
  event?: PullRequestEvent;
  /** `owner/name` the event must be for (GITHUB_REPOSITORY); default: the remote's GitHub URL, if it is one. */
  expectedRepository?: string;
  /** Push attempts in all when the branch keeps moving (default 5). */
  maxAttempts?: number;
  /** Wait this long times the attempt number before a retry (default 1000). */
  retryDelayMs?: number;
  /** Called right before each push; tests move the remote's branch here. */
  beforePush?: (attempt: number) => Promise<void>;
  onRetry?: (attempt: number, reason: string) => void;
}

/** Whether a release commit naming this pull request is already on the branch (a re-run of the job). */
async function alreadyReleased(root: string, base: string, pr: PullRequestRef, mergeCommit: string | undefined, git: GitCallOptions): Promise<boolean> {
  let from: string | undefined;
  if (mergeCommit !== undefined) {
    try {
      if (await isAncestor(root, mergeCommit, base, git)) from = await resolveCommit(root, mergeCommit, git);
    } catch {
      from = undefined; // the merge commit is not known here: look at recent history instead
    }
  }
  const keys = await trailerValues(root, from, base, PULL_REQUEST_TRAILER, { ...git, maxCount: from === undefined ? 200 : undefined });
  return keys.includes(pullRequestKey(pr));
}

/**
 * `oscd release from-event`: makes the release a merged pull request's labels ask for.
 * Acts only on `closed` + merged into the release branch, with a release label; otherwise
 * says why it does nothing. Works on the remote's branch head (fetched), pushes commits and
 * tags atomically and, when the branch moved meanwhile, fetches and re-applies the bump on
 * the new head, at most `maxAttempts` times.
 */
export async function releaseFromEvent(o: FromEventOptions): Promise<ReleaseResult> {
  const git: GitCallOptions = { env: o.env };
  const ev = o.event ?? (o.eventFile !== undefined ? await readPullRequestEvent(o.eventFile) : undefined);
  if (ev === undefined) throw new ReleaseInputError("release-bad-event", "no event given", "pass the event payload file ($GITHUB_EVENT_PATH)");
  const root = await repoRoot(o.repoDir, git);
  const cfg = (await loadFleet(root)).config.release;
  const strategy = parseStrategy(o.strategy ?? cfg.strategy);
  const remote = o.remote ?? "origin";
  const url = await remoteUrl(root, remote, git);
  checkEventRepository(ev.repository, ev.pullRequest.baseRepository, expectedRepository(o.expectedRepository, remote, url));

  const pr: PullRequestRef = { number: ev.pullRequest.number, title: ev.pullRequest.title, url: ev.pullRequest.url, repository: ev.repository };
  const prOut = { ...pr, labels: ev.pullRequest.labels };
  const skip = eventSkipReason(ev, cfg.branch);
  if (skip !== undefined) return nothing(skip, { pullRequest: prOut, branch: cfg.branch });
  const decision = levelsFromLabels(ev.pullRequest.labels, cfg.labels);
  if (decision.skip !== undefined) return nothing(`pull request #${pr.number} is labelled ${decision.skip}: no release`, { pullRequest: prOut, branch: cfg.branch });
  if (decision.levels.length === 0) {
    return nothing(`pull request #${pr.number} has no release label (${[cfg.labels.major, cfg.labels.minor, cfg.labels.patch].join(", ")})`, { pullRequest: prOut, branch: cfg.branch });
  }
  await refuseDirty(root, git);
  if (url === undefined) throw new ReleaseInputError("release-no-remote", `${root} has no remote ${JSON.stringify(remote)}`, "run in a clone of the fleet repository, or name the remote with --remote");

  const branch = cfg.branch;
  const tracking = `refs/remotes/${remote}/${branch}`;
  const refresh = () => fetch(root, remote, { refspecs: [`+refs/heads/${branch}:${tracking}`], tags: true, env: git.env });
  let base = "";
  const prepare = async (): Promise<Prepared<Cut | undefined>> => {
    base = await resolveCommit(root, tracking, git);
    if (await alreadyReleased(root, base, pr, ev.pullRequest.mergeCommit, git)) return { kind: "done", value: undefined };
    const c = await cutReleases(root, base, cfg, decision.levels, strategy, pr, git);
    return { kind: "push", refspecs: refspecs(branch, c), value: c, rollback: c.rollback };
  };

  if (o.dryRun) return fromEventPlan(root, remote, url, tracking, cfg, decision.levels, strategy, pr, prOut, ev.pullRequest.mergeCommit, o.push === true, git);
  let cut: Cut | undefined;
  let pushed = false;
  let attempts = 0;
  if (o.push) {
    ({ value: cut, pushed, attempts } = await pushWithRetry<Cut | undefined>({
      repoDir: root,
      remote,
      branch,
      maxAttempts: Math.max(1, o.maxAttempts ?? 5),
      retryDelayMs: o.retryDelayMs ?? 1000,
      refresh,
      prepare,
      beforePush: o.beforePush,
      onRetry: (n, e) => o.onRetry?.(n, e.message),
      git: git,
    }));
  } else {
    await refresh();
    const p = await prepare();
    cut = p.value;
  }
  if (cut === undefined) {
    return nothing(`pull request #${pr.number} was already released: a release commit on ${branch} names it`, { pullRequest: prOut, branch, base, head: base, attempts });
  }
  let checkout: ReleaseResult["checkout"] = "unchanged";
  if ((await currentBranch(root, git)) === branch && (await isAncestor(root, "HEAD", cut.head, git))) {
    await fastForward(root, cut.head, git);
    checkout = "advanced";
  }
  return {
    status: "released",
    releases: cut.releases,
    base,
    head: cut.head,
    branch,
    remote: pushed ? remote : undefined,
    pushed,
    attempts,
    checkout,
    pullRequest: prOut,
  };
}

/**
 * `release from-event --dry-run`: fetching would move the remote-tracking ref, so the branch
 * is taken as last fetched, and the remote's head is asked (`git ls-remote`, read-only) to say
 * when a real run would start from a newer commit.
 */
async function fromEventPlan(
  root: string,
  remote: string,
  url: string,
  tracking: string,
  cfg: ReleaseConfig,
  levels: readonly Level[],
  strategy: Strategy,
  pr: PullRequestRef,
  prOut: ReleaseResult["pullRequest"],
  mergeCommit: string | undefined,
  push: boolean,
  git: GitCallOptions,
): Promise<ReleaseResult> {
  const branch = cfg.branch;
  const base = await resolveCommit(root, tracking, git).catch(() => {
    throw new ReleaseInputError("release-no-branch", `${tracking} is not here: the dry run does not fetch (that would write the ref)`, `run git fetch ${remote} ${branch} first, or run without --dry-run`);
  });
  const plan = dryRunPlan("release from-event", [`read ${tracking} as last fetched (${short(base)}); fetched nothing`]);
  // A relative remote path is relative to the repository; ls-remote runs elsewhere.
  const where = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/\s]+@[^/\s]+:/.test(url) ? url : resolvePath(root, url);
  const head = await remoteHead(where, `refs/heads/${branch}`, git).catch(() => undefined);
  if (head !== undefined && head !== base) plan.warnings.push(`${remote}'s ${branch} is at ${short(head)} now, not ${short(base)}: a real run fetches it and releases on top of it`);
  if (await alreadyReleased(root, base, pr, mergeCommit, git)) return { ...nothing(`pull request #${pr.number} was already released: a release commit on ${branch} names it`, { pullRequest: prOut, branch, base, head: base }), plan };
  const c = await checkCut(root, base, cfg, levels, strategy, git);
  cutPlan(plan, c, base, branch);
  if (push) pushPlan(plan, remote, url, branch, c.tags);
  return { ...nothing("dry run", { pullRequest: prOut, branch, base, head: base }), plan };
}
