import { ReleaseRefusedError } from "./errors.js";

/**
 * `owner/name` of a GitHub repository URL (https, ssh, scp-like `git@github.com:o/r.git`,
 * with or without credentials and `.git`), or undefined for any other URL or path.
 */
export function githubRepositoryOf(url: string): string | undefined {
  const m =
    /^(?:https?|ssh|git):\/\/(?:[^@/]+@)?(?:www\.)?github\.com(?::\d+)?\/([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/i.exec(url) ??
    /^(?:[^@/\s]+@)?github\.com:([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/i.exec(url);
  return m?.[1] !== undefined && m[2] !== undefined ? `${m[1]}/${m[2]}` : undefined;
}

export interface ExpectedRepository {
  name: string;
  /** Where the expectation comes from, for the error message. */
  source: string;
}

/**
 * The repository the event must be for: `GITHUB_REPOSITORY` (or `--repository`) when given,
 * else the remote's URL when it is a GitHub URL, else none (nothing to compare against).
 */
export function expectedRepository(explicit: string | undefined, remote: string, remoteUrl: string | undefined): ExpectedRepository | undefined {
  if (explicit !== undefined && explicit !== "") return { name: explicit, source: "GITHUB_REPOSITORY" };
  const fromUrl = remoteUrl === undefined ? undefined : githubRepositoryOf(remoteUrl);
  return fromUrl === undefined ? undefined : { name: fromUrl, source: `remote ${remote} (${remoteUrl})` };
}

/** Refuses an event for another repository (GitHub repository names compare without case). */
export function checkEventRepository(eventRepo: string, baseRepo: string | undefined, expected: ExpectedRepository | undefined): void {
  if (baseRepo !== undefined && baseRepo.toLowerCase() !== eventRepo.toLowerCase()) {
    throw new ReleaseRefusedError(
      "release-wrong-repository",
      `the event's pull request is based in ${baseRepo}, but the event is for ${eventRepo}`,
      "only pull requests merged into this repository make releases",
    );
  }
  if (expected !== undefined && expected.name.toLowerCase() !== eventRepo.toLowerCase()) {
    throw new ReleaseRefusedError(
      "release-wrong-repository",
      `the event is for ${eventRepo}, but this is ${expected.name} (from ${expected.source})`,
      "run the release in a checkout of the repository the pull request was merged into",
    );
  }
}
