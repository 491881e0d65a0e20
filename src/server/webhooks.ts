import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors.js";

/**
 * GitHub webhooks. A delivery is accepted only with `X-Hub-Signature-256` = HMAC-SHA256 of the
 * exact body bytes under the shared secret, compared in constant time. The signature does not
 * cover the delivery id, so a replay is recognised by the body itself: the same signed body
 * queues its jobs once, whatever delivery id comes with it (GitHub's own redelivery included).
 */
export function verifyGitHubSignature(secret: string, body: string, header: string | undefined): void {
  if (!header) throw new HttpError(401, "webhook-unsigned", "the webhook has no X-Hub-Signature-256 header", "set the webhook's secret on GitHub to the server's --webhook-secret-file");
  const m = /^sha256=([0-9a-f]{64})$/.exec(header);
  const want = createHmac("sha256", secret).update(body, "utf8").digest();
  const got = m ? Buffer.from(m[1] as string, "hex") : Buffer.alloc(32);
  if (!timingSafeEqual(want, got) || !m) throw new HttpError(401, "webhook-signature", "the webhook's signature does not match its body", "check that GitHub and the server share the same secret");
}

export function bodyDigest(body: string): string {
  return createHash("sha256").update(body, "utf8").digest("hex");
}

export interface PlannedJob {
  kind: "release" | "publish";
  /** What the job needs: the event's facts, never the whole untrusted payload's text in a command line. */
  input: { event: string; ref?: string; commit?: string; pullRequest?: number; payload?: unknown; channel?: string };
}

const SAFE_REF = /^refs\/heads\/[A-Za-z0-9._/-]{1,200}$/;

/**
 * What an event asks for: a merged pull request → a release (its labels say which bump), then a
 * publish; a push to a branch → a publish (the release tag itself arrives as a push too, and is
 * ignored). Anything else asks for nothing.
 */
export function jobsForEvent(event: string, payload: unknown): PlannedJob | undefined {
  const p = (payload ?? {}) as Record<string, unknown>;
  if (event === "pull_request") {
    const pr = p.pull_request as Record<string, unknown> | undefined;
    if (p.action !== "closed" || !pr || pr.merged !== true) return undefined;
    const number = typeof pr.number === "number" ? pr.number : undefined;
    return { kind: "release", input: { event, pullRequest: number, commit: typeof pr.merge_commit_sha === "string" ? pr.merge_commit_sha : undefined, payload } };
  }
  if (event === "push") {
    const ref = typeof p.ref === "string" ? p.ref : "";
    if (!SAFE_REF.test(ref) || p.deleted === true) return undefined;
    const commit = typeof p.after === "string" && /^[0-9a-f]{40}$/.test(p.after) ? p.after : undefined;
    if (!commit) return undefined;
    return { kind: "publish", input: { event, ref, commit } };
  }
  return undefined;
}
