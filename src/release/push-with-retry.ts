import { GitPushRejectedError, push, type GitCallOptions } from "../git/index.js";
import { ReleaseRetriesExhaustedError } from "./errors.js";

/** What one attempt prepared: refs to push atomically, and how to undo it locally if the push fails. */
export type Prepared<T> =
  | { kind: "push"; refspecs: string[]; value: T; rollback: () => Promise<void> }
  /** Nothing to push (e.g. the release turned out to exist already). */
  | { kind: "done"; value: T };

export interface PushWithRetryOptions<T> {
  repoDir: string;
  remote: string;
  branch: string;
  /** Attempts in all (1 = no retry). */
  maxAttempts: number;
  /** Wait this long times the attempt number before a retry. */
  retryDelayMs?: number;
  /** Brings the local view of the remote up to date; called before every attempt. */
  refresh: (attempt: number) => Promise<void>;
  /** Builds the commits and tags on the branch's current head. */
  prepare: (attempt: number) => Promise<Prepared<T>>;
  /**
   * Called after `prepare` and right before the push. Tests use it to move the remote's
   * branch deterministically between fetch and push; it may also log.
   */
  beforePush?: (attempt: number) => Promise<void>;
  onRetry?: (attempt: number, error: GitPushRejectedError) => void;
  git?: GitCallOptions;
}

export interface PushOutcome<T> {
  value: T;
  pushed: boolean;
  attempts: number;
}

/** A rejection that another attempt on the fetched new head can fix: the ref moved, or a tag appeared. */
export function isRetryableRejection(e: unknown): e is GitPushRejectedError {
  return e instanceof GitPushRejectedError && e.rejected.some((r) => /non-fast-forward|fetch first|stale info|already exists/.test(r.reason));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Fetch, prepare, push atomically; when the remote rejects the push because its branch moved
 * meanwhile, undo the local tags, fetch again and re-apply on the new head, at most
 * `maxAttempts` times. Every attempt pushes all refs or none (`git push --atomic`).
 */
export async function pushWithRetry<T>(o: PushWithRetryOptions<T>): Promise<PushOutcome<T>> {
  let last: GitPushRejectedError | undefined;
  for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
    if (attempt > 1 && (o.retryDelayMs ?? 0) > 0) await sleep((o.retryDelayMs ?? 0) * (attempt - 1));
    await o.refresh(attempt);
    const prepared = await o.prepare(attempt);
    if (prepared.kind === "done") return { value: prepared.value, pushed: false, attempts: attempt };
    try {
      await o.beforePush?.(attempt);
      await push(o.repoDir, o.remote, prepared.refspecs, { ...o.git, atomic: true });
      return { value: prepared.value, pushed: true, attempts: attempt };
    } catch (e) {
      await prepared.rollback();
      // With a single attempt the push's own rejection says best what happened.
      if (!isRetryableRejection(e) || o.maxAttempts === 1) throw e;
      last = e;
      o.onRetry?.(attempt, e);
    }
  }
  throw new ReleaseRetriesExhaustedError(o.remote, o.branch, o.maxAttempts, last);
}
