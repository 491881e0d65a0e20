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
  ];
}
