/**
 * GitHub Actions workflows for a fleet repository: one tags releases from merged pull
 * requests (`oscd release from-event`), one publishes new tags and pushes to the release
 * branch (`oscd publish`). Plain text templates; every value that comes from configuration
 * is written as a quoted YAML string.
 */
import { channelForBranch } from "./fleet-file.js";

export interface WorkflowSettings {
  /** The release branch (`release.branch`). */
  branch: string;
  /** `release.tagPrefix`. */
  tagPrefix: string;
  /** Label names, for the comments. */
  labels: { major: string; minor: string; patch: string; none: string | undefined };
  /** The oscd version the workflows install. */
  oscdVersion: string;
}

export interface ScaffoldFile {
  /** Path relative to the repository root. */
  path: string;
  content: string;
}

export const RELEASE_WORKFLOW = ".github/workflows/oscd-release.yml";
export const PUBLISH_WORKFLOW = ".github/workflows/oscd-publish.yml";
export const UPDATE_WORKFLOW = ".github/workflows/oscd-update.yml";
export const IMPACT_WORKFLOW = ".github/workflows/oscd-impact.yml";

/** A YAML double-quoted scalar (JSON strings are valid YAML). */
const q = (s: string): string => JSON.stringify(s);
/** A value inside a YAML comment: one line. */
const c = (s: string): string => s.replace(/\s+/g, " ");

function installSteps(version: string): string {
  return `      - name: Set up Node.js
        uses: actions/setup-node@v4
        with:
          node-version: 20
      # oscd from npm, pinned to the version that wrote this file; replace this step to install
      # it another way (e.g. from your flake).
      - name: Install oscd
        run: npm install --global ${q(`oscd@${version}`)}`;
}

export function releaseWorkflow(s: WorkflowSettings): string {
  const labels = c([s.labels.major, s.labels.minor, s.labels.patch].join(", "));
  const none = s.labels.none === undefined ? "" : ` (${c(s.labels.none)}: explicitly none)`;
  const branch = c(s.branch);
  const prefix = c(s.tagPrefix);
  return `# Written by \`oscd init --ci github\`.
#
# When a pull request is merged into ${branch}, its labels alone decide the release:
# ${labels}${none}.
# oscd bumps the version file, commits, tags ${prefix}<version> with the pull request as
# release notes, and pushes commit and tags atomically, re-applying the bump on the new head
# if ${branch} moved meanwhile. Pull requests without a release label release nothing.
#
# pull_request_target, not pull_request: pull requests from forks get a token that can push
# too. That is safe here because this job checks out only ${branch}, never the pull
# request's code.
# Pushes made with the default GITHUB_TOKEN start no other workflow, so oscd-publish.yml would
# not run for the new tags: store a token (or deploy key) that may push to ${branch}, past its
# branch protection, as the secret OSCD_RELEASE_TOKEN.
name: oscd release

on:
  pull_request_target:
    types: [closed]
    branches: [${q(s.branch)}]

permissions:
  contents: write

concurrency:
  group: ${q(`oscd-release-${s.branch}`)}
  cancel-in-progress: false

jobs:
  release:
    if: github.event.pull_request.merged == true
    runs-on: ubuntu-latest
    steps:
      - name: Check out the release branch
        uses: actions/checkout@v4
        with:
          ref: \${{ github.event.pull_request.base.ref }}
          fetch-depth: 0
          token: \${{ secrets.OSCD_RELEASE_TOKEN || github.token }}
${installSteps(s.oscdVersion)}
      - name: Tag the release the pull request's labels ask for
        run: |
          git config user.name "github-actions[bot]"
          git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
          oscd release from-event "$GITHUB_EVENT_PATH" --push
`;
}

export function publishWorkflow(s: WorkflowSettings): string {
  return `# Written by \`oscd init --ci github\`.
#
# Builds every host of the fleet, signs and uploads the closures to the binary caches and
# writes the signed channel manifest, for each new release tag and each push to ${c(s.branch)}.
# oscd publish needs the signing key and the cache credentials: give them to the last step
# as secrets (see \`oscd publish --help\`).
name: oscd publish

on:
  push:
    branches: [${q(s.branch)}]
    tags: [${q(`${s.tagPrefix}*`)}]

permissions:
  contents: read

# One publish at a time, in order: a channel's manifests carry a strictly increasing sequence.
concurrency:
  group: oscd-publish
  cancel-in-progress: false

jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - name: Check out the pushed commit
        uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - name: Install Nix
        uses: cachix/install-nix-action@v30
${installSteps(s.oscdVersion)}
      - name: Build, sign and publish
        run: oscd publish --ref "$GITHUB_REF"${channelForBranch(s.branch) === "main" ? "" : ` --channel ${channelForBranch(s.branch)}`}
`;
}

export function githubWorkflows(s: WorkflowSettings): ScaffoldFile[] {
  return [
    { path: RELEASE_WORKFLOW, content: releaseWorkflow(s) },
    { path: PUBLISH_WORKFLOW, content: publishWorkflow(s) },
    { path: UPDATE_WORKFLOW, content: updateWorkflow(s) },
    { path: IMPACT_WORKFLOW, content: impactWorkflow(s) },
  ];
}

export function updateWorkflow(s: WorkflowSettings): string {
  const branch = c(s.branch);
  return `# Written by \`oscd init --ci github\`.
#
# Every Monday (and on demand): oscd update moves the fleet's pinned inputs (flake.lock, or a
# classic fleet's pins.json) on the head of ${branch}, builds every host, runs the flake's
# checks and the [update] checks of oscd.toml, and only when all passed pushes the branch
# oscd/update and opens (or updates) a pull request labelled ${c(s.labels.patch)}, so merging
# it releases a patch version through oscd-release.yml. A failure opens nothing and fails
# this job, naming the host or check.
# Pull requests opened with the default GITHUB_TOKEN start no other workflow (oscd impact
# would not comment on them): store a token that may open pull requests as OSCD_UPDATE_TOKEN.
name: oscd update

on:
  schedule:
    - cron: "17 4 * * 1"
  workflow_dispatch: {}

permissions:
  contents: write
  pull-requests: write

concurrency:
  group: oscd-update
  cancel-in-progress: false

jobs:
  update:
    runs-on: ubuntu-latest
    steps:
      - name: Check out the release branch
        uses: actions/checkout@v4
        with:
          ref: ${q(s.branch)}
          fetch-depth: 0
          token: \${{ secrets.OSCD_UPDATE_TOKEN || github.token }}
      - name: Install Nix
        uses: cachix/install-nix-action@v30
${installSteps(s.oscdVersion)}
      - name: Update the inputs, build, check, open a pull request
        env:
          GITHUB_TOKEN: \${{ secrets.OSCD_UPDATE_TOKEN || github.token }}
        run: |
          git config user.name "github-actions[bot]"
          git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
          oscd update --github --release patch
`;
}

export function impactWorkflow(s: WorkflowSettings): string {
  return `# Written by \`oscd init --ci github\`.
#
# On every pull request into ${c(s.branch)} (and each push to it): oscd impact evaluates every host
# at the base and at the pull request's merge commit, builds the hosts whose system changes,
# and posts which machines change, their package diff and whether they need a reboot as ONE
# comment, updated in place on each push.
# pull_request, not pull_request_target: the pull request's Nix code is evaluated here, so it
# runs with the pull request's own token. On pull requests from forks that token cannot
# comment, and the report is in the job log instead.
name: oscd impact

on:
  pull_request:
    types: [opened, synchronize, reopened]
    branches: [${q(s.branch)}]

permissions:
  contents: read
  pull-requests: write

concurrency:
  group: \${{ format('oscd-impact-{0}', github.event.pull_request.number) }}
  cancel-in-progress: true

jobs:
  impact:
    runs-on: ubuntu-latest
    steps:
      - name: Check out the pull request's merge commit
        uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - name: Install Nix
        uses: cachix/install-nix-action@v30
${installSteps(s.oscdVersion)}
      # oscd pins refs of the checkout's branches: the base commit gets a local branch.
      - name: Compute the impact
        id: impact
        continue-on-error: true
        env:
          BASE_SHA: \${{ github.event.pull_request.base.sha }}
        run: |
          git branch --force oscd-impact-base "$BASE_SHA"
          oscd impact --from oscd-impact-base --to HEAD --format markdown --output oscd-impact.md
      - name: Post or update the comment
        if: always()
        uses: actions/github-script@v7
        with:
          script: |
            const fs = require("fs");
            const marker = "<!-- oscd-impact -->";
            const body = fs.existsSync("oscd-impact.md") && fs.readFileSync("oscd-impact.md", "utf8").startsWith(marker)
              ? fs.readFileSync("oscd-impact.md", "utf8")
              : marker + "\\noscd impact failed before it could report; see the job log.";
            const { owner, repo } = context.repo;
            const issue_number = context.issue.number;
            const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number });
            const mine = comments.find((x) => x.user && x.user.type === "Bot" && x.body && x.body.startsWith(marker));
            if (mine) await github.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body });
            else await github.rest.issues.createComment({ owner, repo, issue_number, body });
      - name: Fail when a host failed
        if: steps.impact.outcome == 'failure'
        run: exit 1
`;
}
