import { finishGc } from "../gc-options.js";
import { InvalidArgumentError, type Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { update, UpdateFailedError, type UpdateMode, type UpdateReport } from "../../update/index.js";
import { confirm } from "../confirm.js";
import { printJson } from "../output.js";
import { progressPrinter } from "../progress.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";

interface UpdateFlags {
  input: string[];
  merge?: boolean;
  github?: boolean;
  branch?: string;
  release?: "major" | "minor" | "patch";
  push?: boolean;
  remote?: string;
  repo?: string;
  stateDir?: string;
  rootsDir?: string;
  gc?: boolean;
  gcMaxFreed?: string;
  json?: boolean;
  quiet?: boolean;
  yes?: boolean;
  dryRun?: boolean;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function level(v: string): "major" | "minor" | "patch" {
  if (v === "major" || v === "minor" || v === "patch") return v;
  throw new InvalidArgumentError("expected major, minor or patch");
}

function print(r: UpdateReport): void {
  const out = (s: string) => process.stdout.write(s + "\n");
  if (!r.commit) {
    out(`every input of ${r.releaseBranch} is current; nothing to do`);
    return;
  }
  for (const c of r.changes) out(`${c.name}: ${c.from} → ${c.to}`);
  out(`commit: ${r.commit} on ${r.branch}`);
  for (const h of r.hosts) out(`host ${h.name}: ${h.status}${h.error ? ` (${h.error})` : ""}`);
  for (const c of r.checks) out(`check ${c.name}: ${c.ok ? "passed" : `failed${c.detail ? ` (${c.detail})` : ""}`}`);
  if (r.merged) out(`merged: ${r.releaseBranch} fast-forwarded to ${r.commit.slice(0, 12)}${r.pushed ? " and pushed" : ""}`);
  if (r.pullRequest) out(`pull request: #${r.pullRequest.number} ${r.pullRequest.url}${r.pullRequest.created ? "" : " (updated)"}`);
}

export function registerUpdate(program: Command): void {
  program
    .command("update")
    .description("update the fleet's pinned inputs, build every host, run the checks, and commit on a branch; merge or open a pull request only when all passed")
    .option("--input <name>", "an input to update (repeatable; default: all)", collect, [])
    .option("--merge", "fast-forward the release branch to the update when every build and check passed")
    .option("--github", "push the update branch and open (or update) a pull request through the GitHub API (token from GITHUB_TOKEN)")
    .option("--branch <name>", "the branch the update is committed on", "oscd/update")
    .option("--release <level>", "with --github: label the pull request with the fleet's release label of this level", level)
    .option("--push", "push the merged release branch (--merge) or the update branch")
    .option("--remote <name>", "the remote to push to", "origin")
    .option("-C, --repo <path>", "a checkout of the fleet repository (default: the current directory)")
    .option("--state-dir <dir>", "where oscd keeps its git mirror (default: ~/.cache/oscd)")
    .option("--roots-dir <dir>", "GC root directory for the results (default: /nix/var/nix/gcroots/oscd)")
    .option("--gc", "when done, drop old source snapshot roots (keeping the newest 3) and collect garbage")
    .option("--gc-max-freed <size>", "with --gc: stop collecting once this much is freed (e.g. 10G)")
    .option("-y, --yes", "with --merge --push: do not ask before pushing (asked only on a terminal)")
    .option("--dry-run", dryRunHelp("it resolves the new input revisions in a temporary copy (Nix's lock command, which fetches them) but commits, builds, merges, pushes and opens nothing"))
    .option("--json", "print the report as JSON")
    .option("-q, --quiet", "no progress lines")
    .addHelpText(
      "after",
      `
Examples:
  oscd update                               # all inputs, committed on oscd/update
  oscd update --input nixpkgs --merge       # merge into the release branch if all passed
  oscd update --github --release patch      # CI: a pull request labelled release:patch
  oscd update --merge --gc                  # then drop old snapshot roots and collect garbage
  oscd update --merge --push --dry-run      # the new revisions, and what would be merged and pushed where

Flake fleets update flake.lock with Nix's own lock command; classic fleets the pin file
([update] pinFile, default pins.json: "name": { "url", "rev", "ref" }). Checks: the flake's
checks.<system>.* and [update] checks in oscd.toml (argument arrays). Nothing is merged, and
no pull request opened, when a host or a check fails (exit 1, naming each).`,
    )
    .action(async (o: UpdateFlags) => {
      if (o.merge && o.github) throw new UsageError("--merge and --github cannot be combined", "merge here, or open a pull request");
      if (o.release && !o.github) throw new UsageError("--release labels a pull request: it needs --github");
      const mode: UpdateMode = o.merge ? "merge" : o.github ? "github" : "branch";
      // Merging and pushing changes what every machine following the branch runs: ask first.
      if (o.merge && o.push && !o.dryRun) await confirm(`Update ${o.input.length > 0 ? o.input.join(", ") : "every input"}, and when every build and check passes, fast-forward the release branch and push it to ${o.remote ?? "origin"}?`, "merging and pushing the update", { yes: o.yes });
      const r = await update({
        repo: o.repo,
        inputs: o.input,
        mode,
        branch: o.branch,
        release: o.release,
        push: o.push,
        remote: o.remote,
        stateDir: o.stateDir,
        rootDir: o.rootsDir,
        onProgress: progressPrinter(!o.quiet && !o.json),
        dryRun: o.dryRun,
      });
      if (o.dryRun) {
        if (r.plan) return printDryRun(r.plan, o.json);
        if (o.json) return printJson(r);
        return print(r);
      }
      if (o.json) printJson(r);
      else print(r);
      await finishGc(o, { rootDir: o.rootsDir });
      if (r.failures.length > 0) throw new UpdateFailedError(r.failures, r.branch);
    });
}
