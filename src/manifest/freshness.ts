import { GuardError } from "../core/errors.js";
import type { ManifestBody } from "./manifest.js";

/**
 * Freshness (issue 10): a manifest says until when it may be acted on (`expiresAt`, set by
 * publish). A machine that keeps getting an expired manifest is being held back, by a CI that
 * stopped publishing or by someone replaying the last good file to freeze it on a release with
 * known holes (a freeze attack); either way it refuses, and says so, rather than keep running
 * "the latest" it saw. Clocks differ a little: `skewMs` is how much is tolerated either way.
 */
export interface FreshnessOptions {
  now: Date;
  /** Clock difference tolerated between publisher and machine (both directions). */
  skewMs: number;
  /**
   * Accept a manifest without `expiresAt` (written before expiry existed). Off by default:
   * such a manifest can be replayed for ever, so it is refused unless the caller opts out.
   */
  allowNoExpiry?: boolean;
}

export interface Freshness {
  /** Undefined only when `allowNoExpiry` let a manifest without expiry through. */
  expiresAt?: Date;
  /** Milliseconds until it expires (negative: expired, within the tolerated skew). */
  remainingMs?: number;
}

/** Default clock skew tolerated by readers: five minutes. */
export const DEFAULT_SKEW_MS = 5 * 60_000;

const HOLD_BACK_HINT =
  "no newer manifest has reached this machine: CI may have stopped publishing (run `oscd publish --refresh` on a schedule), or someone is replaying an old manifest to hold it back; check the channel's source and this machine's clock";

export class ManifestExpiredError extends GuardError {
  constructor(
    readonly channel: string,
    readonly sequence: number,
    readonly expiresAt: string,
    now: Date,
  ) {
    super(
      "manifest-expired",
      `channel ${channel} sequence ${sequence} expired at ${expiresAt} (now ${now.toISOString()}): this machine is being held back (a stopped CI or a freeze attack), so the manifest is refused`,
      HOLD_BACK_HINT,
    );
  }
}

function time(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

/**
 * Refuses (exit 3) a manifest that has expired, that has no expiry, whose expiry is not after
 * its creation, or that was created further in the future than the tolerated skew (a manifest
 * from the future would outlive its real validity on this machine's clock).
 */
export function checkFreshness(m: Pick<ManifestBody, "channel" | "sequence" | "createdAt" | "expiresAt">, opts: FreshnessOptions): Freshness {
  const now = opts.now.getTime();
  const skew = Math.max(0, opts.skewMs);
  if (!Number.isFinite(now)) throw new GuardError("manifest-clock", "this machine's clock gives no valid time, so a manifest's expiry cannot be checked", "set the clock (NTP) and try again");
  const created = time(m.createdAt);
  if (created === undefined) throw new GuardError("manifest-expiry-invalid", `channel ${m.channel} sequence ${m.sequence} has no valid createdAt`, HOLD_BACK_HINT);
  if (created > now + skew) {
    throw new GuardError(
      "manifest-from-future",
      `channel ${m.channel} sequence ${m.sequence} was created at ${m.createdAt}, after now (${opts.now.toISOString()}) by more than the ${Math.round(skew / 1000)}s of clock skew tolerated`,
      "the publisher's or this machine's clock is wrong (check NTP on both); a manifest from the future would stay valid here longer than it should",
    );
  }
  if (m.expiresAt === undefined) {
    if (opts.allowNoExpiry) return {};
    throw new GuardError(
      "manifest-no-expiry",
      `channel ${m.channel} sequence ${m.sequence} has no expiry (expiresAt), so a replay of it could hold this machine back for ever`,
      "publish again with an oscd that sets expiresAt (`oscd publish --refresh` re-signs the current content with one)",
    );
  }
  const expires = time(m.expiresAt);
  if (expires === undefined || expires <= created) {
    throw new GuardError("manifest-expiry-invalid", `channel ${m.channel} sequence ${m.sequence} expires (${m.expiresAt}) no later than it was created (${m.createdAt})`, HOLD_BACK_HINT);
  }
  if (now - skew >= expires) throw new ManifestExpiredError(m.channel, m.sequence, m.expiresAt, opts.now);
  return { expiresAt: new Date(expires), remainingMs: expires - now };
}
