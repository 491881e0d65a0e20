import { readFile } from "node:fs/promises";
import { z, type ZodIssue } from "zod";
import { ReleaseInputError } from "./errors.js";

/**
 * A GitHub `pull_request` (or `pull_request_target`) event payload, as `$GITHUB_EVENT_PATH`
 * gives it. Only the fields oscd reads are validated; the rest of GitHub's payload is ignored.
 */
const repoSchema = z.object({ full_name: z.string().min(1), clone_url: z.string().optional(), html_url: z.string().optional() }).passthrough();

const eventSchema = z
  .object({
    action: z.string().min(1),
    number: z.number().int().positive().optional(),
    pull_request: z
      .object({
        number: z.number().int().positive(),
        title: z.string(),
        html_url: z.string().optional(),
        merged: z.boolean().nullable().optional(),
        merge_commit_sha: z.string().nullable().optional(),
        labels: z.array(z.object({ name: z.string() }).passthrough()),
        base: z.object({ ref: z.string().min(1), repo: repoSchema.nullable().optional() }).passthrough(),
      })
      .passthrough(),
    repository: repoSchema,
  })
  .passthrough();

export interface PullRequestEvent {
  action: string;
  /** `owner/name` of the repository the event is for. */
  repository: string;
  pullRequest: {
    number: number;
    title: string;
    url: string | undefined;
    merged: boolean;
    mergeCommit: string | undefined;
    labels: string[];
    /** The branch the pull request was merged into (its base). */
    base: string;
    /** `owner/name` of the base repository, when the payload has it. */
    baseRepository: string | undefined;
  };
}

function describeIssue(i: ZodIssue): string {
  return `${i.path.length > 0 ? i.path.join(".") : "(top level)"}: ${i.message}`;
}

/** Parses event JSON; `name` (the file) is used in errors. */
export function parsePullRequestEvent(text: string, name: string): PullRequestEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new ReleaseInputError(
      "release-bad-event",
      `${name} is not valid JSON (${text.trim() === "" ? "empty file" : msg})`,
      "pass the pull_request event payload file that GitHub Actions names in $GITHUB_EVENT_PATH",
    );
  }
  const r = eventSchema.safeParse(raw);
  if (!r.success) {
    const kind = raw !== null && typeof raw === "object" && !Array.isArray(raw) && !("pull_request" in raw) ? " (it has no pull_request: is it another event?)" : "";
    throw new ReleaseInputError(
      "release-bad-event",
      `${name} is not a pull_request event payload${kind}: ${r.error.issues.slice(0, 3).map(describeIssue).join("; ")}`,
      "run `oscd release from-event` from a workflow triggered by pull_request or pull_request_target (closed)",
    );
  }
  const e = r.data;
  return {
    action: e.action,
    repository: e.repository.full_name,
    pullRequest: {
      number: e.pull_request.number,
      title: e.pull_request.title,
      url: e.pull_request.html_url,
      merged: e.pull_request.merged === true,
      mergeCommit: e.pull_request.merge_commit_sha ?? undefined,
      labels: e.pull_request.labels.map((l) => l.name),
      base: e.pull_request.base.ref,
      baseRepository: e.pull_request.base.repo?.full_name,
    },
  };
}

export async function readPullRequestEvent(file: string): Promise<PullRequestEvent> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new ReleaseInputError("release-bad-event", `cannot read event file ${file}: ${code}`, "pass the file GitHub Actions names in $GITHUB_EVENT_PATH");
  }
  return parsePullRequestEvent(text, file);
}

/**
 * Whether a merged pull request should make a release at all: only `closed` with `merged`
 * true into the release branch. Otherwise the reason it does nothing.
 */
export function eventSkipReason(ev: PullRequestEvent, releaseBranch: string): string | undefined {
  const pr = `pull request #${ev.pullRequest.number}`;
  if (ev.action !== "closed") return `the event is "${ev.action}", not "closed": ${pr} has not been merged yet`;
  if (!ev.pullRequest.merged) return `${pr} was closed without being merged`;
  if (ev.pullRequest.base !== releaseBranch) return `${pr} was merged into ${ev.pullRequest.base}, not the release branch ${releaseBranch}`;
  return undefined;
}
