import { registerSecret } from "../core/command-log.js";
import { BodyTooLargeError, fetchCapped, type CappedResponse } from "../core/fetch-capped.js";
import { GitHubApiError, GitHubTokenMissingError } from "./errors.js";

/** Where and as whom pull requests are opened. The token is read from the environment only. */
export interface GitHubTarget {
  /** `owner/name`. */
  repository: string;
  /** API base, `GITHUB_API_URL` (default https://api.github.com). */
  apiUrl: string;
  token: string;
}

/** Issues, pull requests and labels as JSON: a few kilobytes each; 4 MiB leaves room for long bodies. */
const GITHUB_MAX_BYTES = 4 << 20;

const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** GITHUB_TOKEN (or OSCD_GITHUB_TOKEN), GITHUB_REPOSITORY and GITHUB_API_URL, as a workflow sets them. */
export function gitHubFromEnv(env: NodeJS.ProcessEnv, repository?: string): GitHubTarget {
  const token = env.OSCD_GITHUB_TOKEN ?? env.GITHUB_TOKEN;
  if (!token) throw new GitHubTokenMissingError();
  registerSecret(token);
  const repo = repository ?? env.GITHUB_REPOSITORY ?? "";
  if (!REPOSITORY.test(repo)) throw new GitHubApiError("the repository", 0, `${JSON.stringify(repo)} is not owner/name; set GITHUB_REPOSITORY`);
  const apiUrl = (env.GITHUB_API_URL ?? "https://api.github.com").replace(/\/+$/, "");
  if (!/^https?:\/\//.test(apiUrl)) throw new GitHubApiError("the API URL", 0, "GITHUB_API_URL is not an http(s) URL");
  return { repository: repo, apiUrl, token };
}

async function call(t: GitHubTarget, method: string, path: string, body: unknown, what: string, accept: readonly number[] = [200, 201]): Promise<{ status: number; json: unknown }> {
  // The API's answers are small JSON documents; one that never ends is cut, not buffered.
  let res: CappedResponse;
  try {
    res = await fetchCapped(`${t.apiUrl}/repos/${t.repository}${path}`, {
      maxBytes: GITHUB_MAX_BYTES,
      readErrors: true,
      method,
      headers: {
        authorization: `Bearer ${t.token}`,
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "content-type": "application/json",
        "user-agent": "oscd",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw new GitHubApiError(what, 0, e.message);
    throw e;
  }
  const text = res.text;
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!accept.includes(res.status)) {
    const message = typeof (json as { message?: unknown } | undefined)?.message === "string" ? (json as { message: string }).message : "";
    // eslint-disable-next-line no-control-regex -- the API's text is made one line
    throw new GitHubApiError(what, res.status, message.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, 200));
  }
  return { status: res.status, json };
}

export interface PullRequestRequest {
  head: string;
  base: string;
  title: string;
  body: string;
  labels: readonly string[];
}

/**
 * Opens a pull request from `head` to `base`, or updates the open one for that branch (a
 * scheduled update runs again before the last one is merged), then adds the labels.
 */
export async function openPullRequest(t: GitHubTarget, pr: PullRequestRequest): Promise<{ number: number; url: string; created: boolean }> {
  const owner = t.repository.split("/")[0] as string;
  const existing = await call(t, "GET", `/pulls?state=open&head=${encodeURIComponent(`${owner}:${pr.head}`)}&base=${encodeURIComponent(pr.base)}`, undefined, "listing pull requests");
  const list = Array.isArray(existing.json) ? (existing.json as { number?: unknown; html_url?: unknown }[]) : [];
  let number: number;
  let url: string;
  let created = false;
  const open = list.find((p) => typeof p.number === "number");
  if (open) {
    number = open.number as number;
    const r = await call(t, "PATCH", `/pulls/${number}`, { title: pr.title, body: pr.body }, "updating the pull request");
    url = String((r.json as { html_url?: unknown }).html_url ?? "");
  } else {
    const r = await call(t, "POST", "/pulls", { title: pr.title, body: pr.body, head: pr.head, base: pr.base }, "opening the pull request");
    const j = r.json as { number?: unknown; html_url?: unknown };
    if (typeof j.number !== "number") throw new GitHubApiError("opening the pull request", r.status, "the answer has no number");
    number = j.number;
    url = String(j.html_url ?? "");
    created = true;
  }
  if (pr.labels.length > 0) await call(t, "POST", `/issues/${number}/labels`, { labels: pr.labels }, "labelling the pull request");
  return { number, url, created };
}
