import { readFile } from "node:fs/promises";
import { z, type ZodIssue } from "zod";
import { quoteUntrusted } from "../nix/index.js";
import { ReleaseInputError } from "./errors.js";

/**
 * A GitHub `pull_request` (or `pull_request_target`) event payload, as `$GITHUB_EVENT_PATH`
 * gives it. Only the fields oscd reads are validated; the rest of GitHub's payload is ignored.
 */
// Values that reach messages and git are held to GitHub's own forms, so none can carry a
// line break into an error or a ref name into git that GitHub would not have made.
const fullName = z.string().regex(/^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/, "a repository is owner/name");
const repoSchema = z.object({ full_name: fullName, clone_url: z.string().optional(), html_url: z.string().optional() }).passthrough();
// eslint-disable-next-line no-control-regex -- what git ref names may not contain
const refName = z.string().min(1).max(255).regex(/^[^\u0000-\u0020\u007f~^:?*[\\]+$/, "not a git branch name");

const eventSchema = z
  .object({
    action: z.string().regex(/^[a-z_]{1,64}$/, "an event action is a lowercase word"),
    number: z.number().int().positive().optional(),
    pull_request: z
      .object({
        number: z.number().int().positive(),
        title: z.string(),
        html_url: z.string().optional(),
        merged: z.boolean().nullable().optional(),
        merge_commit_sha: z.string().nullable().optional(),
        labels: z.array(z.object({ name: z.string() }).passthrough()),
        base: z.object({ ref: refName, repo: repoSchema.nullable().optional() }).passthrough(),
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

/** Keys come from the payload: quoted when they are not plain words (one line, always). */
function describeIssue(i: ZodIssue): string {
  const path = i.path.map((s) => (typeof s === "number" || /^[A-Za-z0-9_-]+$/.test(s) ? String(s) : quoteUntrusted(s)));
  return `${path.length > 0 ? path.join(".") : "(top level)"}: ${i.message}`;
}

/** V8's JSON error quotes the input; only printable ASCII of its first line is kept. */
function jsonErrorSummary(e: unknown): string {
  const first = (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
  const safe = first.replace(/[^\x20-\x7e]/g, "?");
  return safe.length > 120 ? `${safe.slice(0, 120)}…` : safe;
}

/** Parses event JSON; `name` (the file) is used in errors. */
export function parsePullRequestEvent(text: string, name: string): PullRequestEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const msg = jsonErrorSummary(e);
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
