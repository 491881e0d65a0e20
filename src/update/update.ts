import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildHosts, formatPins, parsePins, pinFleet, pinnedInputs } from "../builder/index.js";
import { UsageError } from "../core/errors.js";
import { loadFleet } from "../fleet/index.js";
import {
  archiveCommit,
  commitFileChange,
  currentBranch,
  fastForward,
  GitUnknownRefError,
  headCommit,
  isDirty,
  moveBranch,
  push,
  readFileAt,
  remoteUrl,
  repoRoot,
  resolveCommit,
  type GitCallOptions,
} from "../git/index.js";
import type { NixCallOptions } from "../nix/index.js";
import { runCommandChecks, runFlakeChecks, type CheckResult } from "./checks.js";
import { BranchMovedError, NoInputsError, UnknownInputError } from "./errors.js";
import { parseFlakeLock, updateFlakeLock, type PinnedInput } from "./flake-lock.js";
import { gitHubFromEnv, openPullRequest } from "./github.js";
import { updateMessage, type InputChange } from "./message.js";
import { updatePins } from "./pins.js";
import { dryRunPlan, type DryRunPlan } from "../core/dry-run.js";
import { redactUrl } from "../core/redact-url.js";

export type UpdateMode = "branch" | "merge" | "github";

export interface UpdateRequest {
  /** A local checkout of the fleet repository (default: the current directory). */
  repo?: string;
  /** Inputs to update (default: all). */
  inputs: readonly string[];
  mode: UpdateMode;
  /** The branch the update is committed on (default `oscd/update`). */
  branch?: string;
  /** GitHub mode: the release level whose label (release.labels in oscd.toml) the pull request gets. */
  release?: "major" | "minor" | "patch";
  /** Push the merged release branch (merge) or the update branch (branch, github) to `remote`. */
  push?: boolean;
  remote?: string;
  stateDir?: string;
  rootDir?: string;
  nix?: NixCallOptions;
  git?: GitCallOptions;
  /** Where the GitHub token and repository come from (default process.env). */
  env?: NodeJS.ProcessEnv;
  onProgress?: (step: string, detail: string) => void;
  /**
   * Resolve the new input revisions (in a temporary copy) and stop: no commit, branch, build,
   * merge, push or pull request; the report's `plan` says what a real run would do.
   */
  dryRun?: boolean;
}

export interface UpdateReport {
  releaseBranch: string;
  base: string;
  branch: string;
  /** The update commit; undefined when every input was already current. */
  commit?: string;
  changes: InputChange[];
  hosts: { name: string; status: string; error?: string }[];
  checks: CheckResult[];
  /** Every failure, naming the host or the check. Empty: all passed. */
  failures: string[];
  merged: boolean;
  pushed: boolean;
  pullRequest?: { number: number; url: string; created: boolean };
  /** With `dryRun`: the commit, build, checks, merge, push and pull request a real run would make. */
  plan?: DryRunPlan;
}

interface NewPins {
  file: string;
  content: string;
  mode: string;
  before: PinnedInput[];
  after: PinnedInput[];
}

function checkNames(names: readonly string[], known: readonly PinnedInput[]): void {
  for (const n of names) if (!known.some((k) => k.name === n)) throw new UnknownInputError(n, known.map((k) => k.name));
}

/** The new pin file content at `snapshotDir` (the release branch head, unpacked). */
async function newPins(snapshotDir: string, root: string, base: string, names: readonly string[], layout: "flake" | "classic", pinFile: string, o: UpdateRequest): Promise<NewPins> {
  if (layout === "flake") {
    const at = await readFileAt(root, base, "flake.lock", o.git);
    if (!at) throw new NoInputsError("flake.lock");
    const before = parseFlakeLock(at.content);
    checkNames(names, before);
    const content = await updateFlakeLock(snapshotDir, names, o.nix);
    return { file: "flake.lock", content, mode: at.mode, before, after: parseFlakeLock(content) };
  }
  const at = await readFileAt(root, base, pinFile, o.git);
  if (!at) throw new NoInputsError(pinFile);
  const pins = parsePins(at.content, pinFile);
  const before = pinnedInputs(pins);
  checkNames(names, before);
  const updated = await updatePins(pins, names, o.git);
  return { file: pinFile, content: formatPins(updated), mode: at.mode, before, after: pinnedInputs(updated) };
}

async function branchHead(root: string, branch: string, git: GitCallOptions | undefined): Promise<string | undefined> {
  try {
    return await resolveCommit(root, `refs/heads/${branch}`, git);
  } catch (e) {
    if (e instanceof GitUnknownRefError) return undefined;
    throw e;
  }
}

/**
 * `oscd update`: move the pinned inputs of the release branch's head (flake.lock through Nix's
 * own lock command, or the classic pin file), commit that on the update branch, build every
 * host and run the fleet's checks from that commit. Then, only when everything passed: merge
 * (fast-forward the release branch, refusing if it moved) or open a pull request. The working
 * tree is never touched except by a fast-forward of the checked-out release branch.
 */
export async function update(o: UpdateRequest): Promise<UpdateReport> {
  const say = (step: string, detail: string) => o.onProgress?.(step, detail);
  const root = await repoRoot(o.repo ?? ".", o.git);
  const checkoutFleet = await loadFleet(root);
  const releaseBranch = checkoutFleet.config.release.branch;
  const branch = o.branch ?? "oscd/update";
  if (branch === releaseBranch) throw new UsageError(`--branch ${branch} is the release branch`, "the update is committed on its own branch and merged only when it passed", "update-bad-branch");
  // Asked for before any work, so a workflow without a token fails at once.
  const gh = o.mode === "github" ? gitHubFromEnv(o.env ?? process.env) : undefined;
  const base = await branchHead(root, releaseBranch, o.git);
  if (base === undefined) throw new UsageError(`the release branch ${releaseBranch} does not exist in ${root}`, "set release.branch in oscd.toml", "update-no-release-branch");
  const tmp = await mkdtemp(join(tmpdir(), "oscd-update-"));
  const report: UpdateReport = { releaseBranch, base, branch, changes: [], hosts: [], checks: [], failures: [], merged: false, pushed: false };
  try {
    const snapshot = join(tmp, "src");
    await archiveCommit(root, base, snapshot, o.git);
    const fleet = await loadFleet(snapshot);
    say("inputs", `${releaseBranch} = ${base.slice(0, 12)} (${fleet.layout})`);
    const pins = await newPins(snapshot, root, base, o.inputs, fleet.layout, fleet.config.update.pinFile, o);
    const after = new Map(pins.after.map((p) => [p.name, p.rev]));
    report.changes = pins.before.filter((p) => (o.inputs.length === 0 || o.inputs.includes(p.name)) && after.get(p.name) !== undefined && after.get(p.name) !== p.rev).map((p) => ({ name: p.name, from: p.rev, to: after.get(p.name) as string }));
    if (report.changes.length === 0) {
      say("inputs", "every input is current");
      return report;
    }
    for (const c of report.changes) say("inputs", `${c.name}: ${c.from} → ${c.to}`);
    if (o.dryRun) {
      report.plan = await updatePlan(root, o, report, pins.file, fleet.config.update, fleet.config.release.labels, gh);
      return report;
    }
    const commit = await commitFileChange(root, base, { path: pins.file, content: pins.content, mode: pins.mode }, updateMessage(report.changes, pins.file), o.git);
    report.commit = commit;
    if ((await currentBranch(root, o.git)) === branch) throw new UsageError(`the update branch ${branch} is checked out in ${root}`, "check out the release branch, or name another --branch", "update-branch-checked-out");
    const previous = await branchHead(root, branch, o.git);
    if (!(await moveBranch(root, branch, commit, previous, o.git))) throw new BranchMovedError(branch);
    say("commit", `${branch} = ${commit.slice(0, 12)}`);

    const pinned = await pinFleet({ repo: root, ref: commit, stateDir: o.stateDir, rootDir: o.rootDir, git: o.git });
    const build = await buildHosts(pinned, { rootDir: o.rootDir, nix: o.nix, onProgress: (p) => p.step === "build" && p.state !== "building" && say("build", `${p.host}: ${p.state}`) });
    report.hosts = build.hosts.map((h) => ({ name: h.name, status: h.status, error: h.error?.message }));
    for (const h of build.hosts) if (h.status === "failed") report.failures.push(`host ${h.name} failed to ${h.failedStep ?? "build"}: ${h.error?.message ?? "unknown error"}`);
    const cfg = pinned.fleet.config.update;
    if (cfg.flakeChecks) report.checks.push(...(await runFlakeChecks(pinned, pinned.fleet.config.fleet.system, o.rootDir, o.nix)));
    report.checks.push(...(await runCommandChecks(cfg.checks, pinned.source.snapshot.storePath, cfg.timeoutSeconds * 1000, { OSCD_UPDATE_COMMIT: commit })));
    for (const c of report.checks) {
      say("check", `${c.name}: ${c.ok ? "passed" : `FAILED ${c.detail ?? ""}`}`);
      if (!c.ok) report.failures.push(`check ${c.name} failed${c.detail ? `: ${c.detail}` : ""}`);
    }
    if (report.failures.length > 0) return report;

    const remote = o.remote ?? "origin";
    if (o.mode === "merge") {
      await mergeInto(root, releaseBranch, base, commit, o.git);
      report.merged = true;
      say("merge", `${releaseBranch} fast-forwarded to ${commit.slice(0, 12)}`);
      if (o.push) {
        await push(root, remote, [`refs/heads/${releaseBranch}:refs/heads/${releaseBranch}`], o.git);
        report.pushed = true;
      }
    } else if (gh) {
      // The update branch is oscd's own: replacing an older update there is intended.
      await push(root, remote, [`+refs/heads/${branch}:refs/heads/${branch}`], o.git);
      report.pushed = true;
      const labels = o.release ? [pinned.fleet.config.release.labels[o.release]] : [];
      report.pullRequest = await openPullRequest(gh, {
        head: branch,
        base: releaseBranch,
        title: updateMessage(report.changes, pins.file).split("\n")[0] as string,
        body: pullRequestBody(report, pins.file),
        labels,
      });
      say("pull-request", `#${report.pullRequest.number} ${report.pullRequest.url}`);
    } else if (o.push) {
      await push(root, remote, [`+refs/heads/${branch}:refs/heads/${branch}`], o.git);
      report.pushed = true;
    }
    return report;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** What `update --dry-run` says a real run does after the inputs were resolved, in its order. */
async function updatePlan(
  root: string,
  o: UpdateRequest,
  r: UpdateReport,
  file: string,
  cfg: { flakeChecks: boolean; checks: readonly (readonly string[])[] },
  labels: Record<"major" | "minor" | "patch", string>,
  gh: ReturnType<typeof gitHubFromEnv> | undefined,
): Promise<DryRunPlan> {
  const plan = dryRunPlan("update", ["resolved the new input revisions in a temporary copy; committed, built and pushed nothing"]);
  const { branch, releaseBranch, base } = r;
  if ((await currentBranch(root, o.git)) === branch) throw new UsageError(`the update branch ${branch} is checked out in ${root}`, "check out the release branch, or name another --branch", "update-branch-checked-out");
  for (const c of r.changes) plan.steps.push({ action: "update", target: file, detail: `${c.name}: ${c.from} → ${c.to}` });
  const previous = await branchHead(root, branch, o.git);
  plan.steps.push({ action: "commit", target: `refs/heads/${branch}`, detail: `${file} on ${releaseBranch} (${base.slice(0, 12)}); the branch ${previous ? `moves from ${previous.slice(0, 12)}` : "is created"}` });
  const checks = [...(cfg.flakeChecks ? ["the flake's checks"] : []), ...cfg.checks.map((c) => `command:${c.join(" ")}`)];
  plan.steps.push({ action: "build", target: "every host", detail: `at that commit, then the checks: ${checks.join(", ") || "none configured"}; what follows happens only when all pass` });
  const remote = o.remote ?? "origin";
  const where = async () => {
    const url = await remoteUrl(root, remote, o.git);
    return `${remote} (${url ? redactUrl(url) : "no URL"})`;
  };
  if (o.mode === "merge") {
    const here = (await currentBranch(root, o.git)) === releaseBranch;
    plan.steps.push({ action: "fast-forward", target: `refs/heads/${releaseBranch}`, detail: `from ${base.slice(0, 12)} to the update commit${here ? ` (the checkout of ${root})` : ""}` });
    if (o.push) plan.steps.push({ action: "push", target: await where(), detail: `refs/heads/${releaseBranch}` });
  } else if (gh) {
    plan.steps.push({ action: "push", target: await where(), detail: `refs/heads/${branch}, replacing an older update there` });
    plan.steps.push({ action: "pull request", target: `${redactUrl(gh.apiUrl)}/repos/${gh.repository}`, detail: `${branch} → ${releaseBranch}: "${updateMessage(r.changes, file).split("\n")[0] ?? ""}"${o.release ? `, labelled ${labels[o.release]}` : ""} (opened, or the open one updated)` });
  } else if (o.push) plan.steps.push({ action: "push", target: await where(), detail: `refs/heads/${branch}, replacing an older update there` });
  return plan;
}

/** Fast-forwards the release branch from `base` to `commit`: the checkout when it is on that branch, else the ref alone. */
async function mergeInto(root: string, releaseBranch: string, base: string, commit: string, git: GitCallOptions | undefined): Promise<void> {
  if ((await currentBranch(root, git)) === releaseBranch) {
    if ((await headCommit(root, git)) !== base) throw new BranchMovedError(releaseBranch);
    if (await isDirty(root, { ...git, untracked: false })) throw new UsageError(`${root} has uncommitted changes on ${releaseBranch}`, "commit or stash them; the update is on its branch", "update-dirty-checkout");
    await fastForward(root, commit, git);
    return;
  }
  if (!(await moveBranch(root, releaseBranch, commit, base, git))) throw new BranchMovedError(releaseBranch);
}

function pullRequestBody(r: UpdateReport, file: string): string {
  const rows = r.changes.map((c) => `| ${c.name} | \`${c.from}\` | \`${c.to}\` |`);
  const hosts = r.hosts.map((h) => `${h.name} (${h.status})`).join(", ");
  const checks = r.checks.map((c) => c.name).join(", ") || "none configured";
  return [`Updates ${file}:`, "", "| input | from | to |", "|---|---|---|", ...rows, "", `Built: ${hosts}.`, `Checks passed: ${checks}.`, "", "Opened by `oscd update --github`."].join("\n");
}
