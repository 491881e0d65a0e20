import { UsageError } from "../core/errors.js";
import { signHostViews, type Manifest, type ManifestBody } from "../manifest/index.js";
import { writeChannel, type Compose, type LocationStatus } from "./channel.js";
import { checkChannelTrust, prepareChannel, type ChannelOptions } from "./setup.js";
import { DEFAULT_VALIDITY_MS, expiryFrom } from "./validity.js";

export interface RefreshOptions extends ChannelOptions {
  /** The new manifest's validity; default 7 days. */
  validForMs?: number;
  now?: () => Date;
}

export interface RefreshReport {
  channel: string;
  sequence: number;
  previousSequence: number;
  createdAt: string;
  expiresAt: string;
  locations: { url: string; status: LocationStatus }[];
  warnings: string[];
  retries: number;
  /** The manifest written (for a control server to be told of it). */
  manifest: Manifest;
  /** Each host's signed view of it (with `hostViews`). */
  views?: Manifest[];
}

/**
 * `oscd publish --refresh`: the channel's current manifest, verified with the fleet's trusted
 * keys, signed again unchanged but for a new sequence, creation time and expiry. Nothing is
 * built or uploaded. CI runs it on a schedule so machines can tell a quiet channel from one
 * that is being held back (an expired manifest is refused).
 */
export async function refreshChannel(opts: RefreshOptions = {}): Promise<RefreshReport> {
  const warnings: string[] = [];
  const prepared = await prepareChannel(opts, warnings);
  const trust = await checkChannelTrust(prepared, opts.requireApproval === true);
  const { key, channel, trusted, primary, others } = prepared;
  const now = (opts.now ?? (() => new Date()))();
  const createdAt = now.toISOString();
  const expiresAt = expiryFrom(now, opts.validForMs ?? DEFAULT_VALIDITY_MS);
  // `previous` comes from the location's state: read and verified with the trusted keys, its
  // history name checked against its sequence. Only such a manifest is carried over.
  const compose: Compose = (previous, signer) => {
    if (!previous || !signer) {
      throw new UsageError(`channel ${channel} has no manifest at ${primary.url} to refresh`, "publish the channel first (oscd publish)", "nothing-to-refresh");
    }
    const { sequence: _sequence, signatures: _signatures, ...content } = previous;
    const body: Omit<ManifestBody, "sequence"> = { ...content, createdAt, expiresAt, signedAt: createdAt };
    return body;
  };
  const w = await writeChannel(primary, others, compose, key.secret, trusted);
  return {
    channel,
    sequence: w.manifest.sequence,
    previousSequence: w.previous?.sequence ?? 0,
    createdAt,
    expiresAt,
    locations: w.locations,
    warnings,
    retries: w.retries,
    manifest: w.manifest,
    // Not while the refresh waits for other key holders' approval (machines would refuse views signed by one key).
    views: opts.hostViews && (!trust || w.manifest.signatures.length >= trust.policy.threshold) ? signHostViews(w.manifest, key.secret) : undefined,
  };
}
