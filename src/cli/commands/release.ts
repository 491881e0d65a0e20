import { InvalidArgumentError, Option, type Command } from "commander";
import { releaseBump, releaseFromEvent, type ReleaseResult } from "../../release/index.js";
import { printJson } from "../output.js";
import { progressSay } from "../progress.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";

function printResult(r: ReleaseResult, remote: string, json: boolean | undefined): void {
  if (r.plan) {
    if (r.reason && r.reason !== "dry run") r.plan.did.push(r.reason);
    return printDryRun(r.plan, json);
  }
  if (json) return printJson(r);
  if (r.status === "nothing-to-do") {
    process.stdout.write(`nothing to do: ${r.reason ?? ""}\n`);
    return;
  }
  for (const x of r.releases) process.stdout.write(`tagged ${x.tag} (${x.level}: ${x.from} → ${x.version}) on ${x.commit.slice(0, 12)}\n`);
  if (r.pushed) {
    const retried = r.attempts > 1 ? ` after ${r.attempts} attempts (the branch moved meanwhile)` : "";
    process.stdout.write(`pushed ${r.branch ?? "the branch"} and ${r.releases.length} tag${r.releases.length === 1 ? "" : "s"} to ${r.remote ?? "the remote"}${retried}\n`);
  } else {
    process.stdout.write(`not pushed; to push: git push --atomic ${remote} ${r.head ?? "HEAD"}:refs/heads/${r.branch ?? "BRANCH"} ${r.releases.map((x) => `refs/tags/${x.tag}`).join(" ")}\n`);
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("not a positive integer");
  return n;
}

const strategyOption = () =>
  new Option("--strategy <strategy>", "sequential: one commit and tag per level, major → minor → patch (the RFC); highest: only the highest level (default: release.strategy of oscd.toml)").choices(["sequential", "highest"]);

export function registerRelease(program: Command): void {
  const release = program
    .command("release")
    .description("semantic-version releases: bump the version file, commit, tag, push")
    .addHelpText(
      "after",
      `
Examples:
  oscd release bump minor --push
  oscd release from-event "$GITHUB_EVENT_PATH" --push

The version file, tag prefix, release branch and label names come from [release] in oscd.toml.`,
    );

  release
    .command("bump")
    .argument("<levels...>", "major, minor and/or patch")
    .description("bump the version file on the checked-out branch: one commit and annotated tag per level")
    .option("--push", "push the branch and the tags to the remote, atomically")
    .option("--remote <name>", "the remote to push to", "origin")
    .option("--dry-run", dryRunHelp("it makes every check (clean tree, version file, tags) but commits, tags, pushes and moves nothing"))
    .addOption(strategyOption())
    .option("-C, --repo <dir>", "the fleet repository", ".")
    .option("--json", "print what was tagged and pushed as JSON")
    .addHelpText(
      "after",
      `
Examples:
  oscd release bump patch                  # 1.2.3 → 1.2.4: commit VERSION, tag v1.2.4
  oscd release bump major patch --push     # 1.2.3 → v2.0.0, then v2.0.1, each its own commit and tag
  oscd release bump major patch --strategy highest   # only v2.0.0
  oscd release bump minor --push --dry-run # the commit, tag and push it would make

Refuses a dirty working tree, a version file that is not a semantic version, and a tag that
exists already (exit 3 for refusals, 2 for bad input).`,
    )
    .action(async (levels: string[], o: { push?: boolean; remote: string; strategy?: string; repo: string; json?: boolean; dryRun?: boolean }) => {
      const r = await releaseBump({ repoDir: o.repo, levels, push: o.push, remote: o.remote, strategy: o.strategy, dryRun: o.dryRun });
      printResult(r, o.remote, o.json);
    });

  release
    .command("from-event")
    .argument("<file>", "a GitHub pull_request event payload ($GITHUB_EVENT_PATH)")
    .description("release what a merged pull request's labels ask for (release:major, release:minor, release:patch)")
    .option("--push", "push the release commits and tags atomically, retrying on the new head if the branch moved")
    .option("--remote <name>", "the remote the release branch is fetched from and pushed to", "origin")
    .addOption(strategyOption())
    .option("--max-attempts <n>", "push attempts before giving up when the branch keeps moving", positiveInt, 5)
    .option("--dry-run", dryRunHelp("it fetches nothing (the branch as last fetched; the remote's head is only asked) and commits, tags and pushes nothing"))
    .option("-C, --repo <dir>", "the fleet repository (a clone with the remote)", ".")
    .option("--json", "print what was tagged and pushed, or why nothing happened, as JSON")
    .addHelpText(
      "after",
      `
Examples:
  oscd release from-event "$GITHUB_EVENT_PATH" --push
  oscd release from-event event.json --json          # try it locally: tags made here, not pushed
  oscd release from-event event.json --push --dry-run  # what it would tag and push, changing nothing

Acts only when the pull request was closed, merged, into the release branch of oscd.toml, with
a release label; otherwise it says why it did nothing and exits 0. A pull request labelled
release:none makes no release. The event must be for this repository: GITHUB_REPOSITORY when
set, else the remote's GitHub URL.`,
    )
    .action(async (file: string, o: { push?: boolean; remote: string; strategy?: string; maxAttempts: number; repo: string; json?: boolean; dryRun?: boolean }) => {
      const r = await releaseFromEvent({
        repoDir: o.repo,
        eventFile: file,
        push: o.push,
        remote: o.remote,
        strategy: o.strategy,
        maxAttempts: o.maxAttempts,
        dryRun: o.dryRun,
        expectedRepository: process.env.GITHUB_REPOSITORY,
        onRetry: (n, reason) => progressSay()("oscd", "push", `attempt ${n} rejected (${reason}); fetching and re-applying on the new head`),
      });
      printResult(r, o.remote, o.json);
    });
}
