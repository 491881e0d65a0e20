import type { BumpStep } from "./bump.js";

/** The merged pull request a release comes from. */
export interface PullRequestRef {
  number: number;
  title: string;
  url?: string | undefined;
  /** `owner/name`. */
  repository?: string | undefined;
}

/** Git trailers on release commits: what was released, and for which pull request. */
export const RELEASE_TRAILER = "Oscd-Release";
export const PULL_REQUEST_TRAILER = "Oscd-Pull-Request";

/** `owner/name#12` (or `#12` without a repository): the value of the pull-request trailer. */
export function pullRequestKey(pr: PullRequestRef): string {
  return `${pr.repository ?? ""}#${pr.number}`;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

function describeStep(step: BumpStep): string {
  return `${step.level} release: ${step.from} → ${step.version}`;
}

/** The message of the commit that changes the version file. */
export function commitMessage(tag: string, step: BumpStep, pr: PullRequestRef | undefined): string {
  const lines = [`Release ${tag}`, "", describeStep(step) + (pr ? `, from #${pr.number}: ${oneLine(pr.title)}` : ""), "", `${RELEASE_TRAILER}: ${tag}`];
  if (pr) lines.push(`${PULL_REQUEST_TRAILER}: ${pullRequestKey(pr)}`);
  return lines.join("\n") + "\n";
}

/** The annotated tag's message: the release notes, listing the merged pull request. */
export function tagMessage(tag: string, step: BumpStep, pr: PullRequestRef | undefined): string {
  const lines = [`Release ${tag}`, "", describeStep(step)];
  if (pr) {
    lines.push("", "Pull requests:", `- #${pr.number} ${oneLine(pr.title)}${pr.url ? ` (${pr.url})` : ""}`);
  }
  return lines.join("\n") + "\n";
}
