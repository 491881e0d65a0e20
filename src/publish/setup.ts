import { join } from "node:path";
import { GuardError, UsageError } from "../core/errors.js";
import { channelPolicy, parseTrustRoot, verifySelfSigned, type ChannelPolicy, type TrustRoot } from "../trust/index.js";
import { pinFleet, type PinnedFleet, type PinOptions } from "../builder/index.js";
import { checkStoreUrl, formatPublicKey, parsePublicKey, type PublicKey } from "../nix/index.js";
import { checkChannelName } from "../manifest/index.js";
import type { ChannelLocation } from "./channel.js";
import { FileChannel } from "./channel-file.js";
import { HttpChannel } from "./channel-http.js";
import { loadSigningKey, trustedKeysFor, type SigningKey } from "./key.js";
import { fileStoreDir, redactUrl } from "./store-url.js";

/** What publish and refresh share: which fleet, channel, key and caches. */
export interface ChannelOptions extends PinOptions {
  /** Channel name (default `main`); must be one of the fleet's channels. */
  channel?: string;
  /** Secret key file; default `$OSCD_SIGNING_KEY_FILE`. */
  keyFile?: string;
  /** Caches to publish to instead of the fleet's `caches`. */
  caches?: string[];
  /** Also write the channel's manifests into this directory (`<dir>/<channel>.json`). */
  manifestOut?: string;
  /** Also sign each host's view of the manifest (for a control server: src/manifest/host-view.ts). */
  hostViews?: boolean;
  env?: NodeJS.ProcessEnv;
  /**
   * Write the manifest with this key's signature alone although the channel's trust root
   * needs more (`oscd publish --require-approval`): it waits for `oscd manifest sign`.
   */
  requireApproval?: boolean;
}

export interface PreparedChannel {
  key: SigningKey;
  pinned: PinnedFleet;
  channel: string;
  /** Keys old manifests must verify with (the fleet's, and the signing key). */
  trusted: PublicKey[];
  caches: string[];
  locations: ChannelLocation[];
  primary: ChannelLocation;
  others: ChannelLocation[];
  /** The trust root beside the channel (its `trust/root.json`), and the channel's entry in it. */
  trust?: { root: TrustRoot; policy: ChannelPolicy };
}

/** Where the channel's manifests go: each file and http(s) cache, then `--manifest-out`. */
export function channelLocations(caches: readonly string[], channel: string, manifestOut?: string): { locations: ChannelLocation[]; skipped: string[] } {
  const locations: ChannelLocation[] = [];
  const skipped: string[] = [];
  for (const c of caches) {
    const dir = fileStoreDir(c);
    if (dir !== undefined) locations.push(new FileChannel(join(dir, "channels"), channel));
    else if (/^https?:\/\//.test(c)) locations.push(new HttpChannel(c, channel));
    else skipped.push(c);
  }
  if (manifestOut) locations.push(new FileChannel(manifestOut, channel));
  return { locations, skipped };
}

function pickChannel(name: string | undefined, channels: Record<string, unknown>): string {
  const channel = checkChannelName(name ?? "main");
  // Own keys only: `toString` or `constructor` are in every object, not in the fleet.
  if (!Object.hasOwn(channels, channel)) {
    throw new UsageError(`the fleet has no channel ${channel}`, `channels in oscd.toml: ${Object.keys(channels).join(", ") || "(none)"}; add [channels.${channel}] or pass --channel`, "no-such-channel");
  }
  return channel;
}

/**
 * Everything checked before any work: the signing key, the pinned fleet, the channel (one of
 * the fleet's own), the trusted keys, the caches and where the manifests go.
 */
export async function prepareChannel(opts: ChannelOptions, warnings: string[], onPinned?: (p: PinnedFleet) => void): Promise<PreparedChannel> {
  const key = await loadSigningKey(opts.keyFile, opts.env);
  const pinned = await pinFleet(opts);
  const { source, fleet } = pinned;
  onPinned?.(pinned);
  if (pinned.uncommittedChanges && pinned.uncommittedFleetFiles.length === 0) warnings.push(`${pinned.repo} has uncommitted changes; they are not published (only commit ${source.commit.slice(0, 12)} is)`);
  const channel = pickChannel(opts.channel, fleet.config.channels);
  const trusted = trustedKeysFor(key, fleet.config.keys.trusted);
  if (fleet.config.keys.trusted.length === 0) warnings.push("oscd.toml lists no keys.trusted; machines must trust the signing key through nix.settings.trusted-public-keys");
  const caches = opts.caches && opts.caches.length > 0 ? opts.caches : fleet.config.caches;
  if (caches.length === 0) {
    throw new UsageError(
      `no binary cache to publish to (oscd.toml of commit ${source.commit.slice(0, 12)} names none)`,
      `add caches = ["file:///srv/nix-cache"] (or an https://, ssh-ng:// or s3:// URL) to oscd.toml and commit it (oscd reads the fleet file from the commit it builds${pinned.uncommittedFleetFiles.length > 0 ? `; ${pinned.uncommittedFleetFiles.join(", ")} ha${pinned.uncommittedFleetFiles.length === 1 ? "s" : "ve"} uncommitted changes` : ""}), or pass --cache URL`,
      "no-cache",
    );
  }
  caches.forEach(checkStoreUrl);
  const { locations, skipped } = channelLocations(caches, channel, opts.manifestOut);
  for (const s of skipped) warnings.push(`no manifest is written to ${redactUrl(s)} (a Nix store holds store paths only); pass --manifest-out DIR to put it where machines read it`);
  const [primary, ...others] = locations;
  if (!primary) throw new UsageError(`none of the caches (${caches.map(redactUrl).join(", ")}) can hold a manifest`, "pass --manifest-out DIR, or add a file:// or http(s):// cache", "no-manifest-location");
  return { key, pinned, channel, trusted, caches, locations, primary, others };
}

/**
 * After the caches answered: the trust root beside the channel, if any (see channelTrust).
 * The channel's release keys join the keys previous manifests are read with.
 */
export async function checkChannelTrust(p: PreparedChannel, requireApproval: boolean): Promise<PreparedChannel["trust"]> {
  const trust = await channelTrust(p.locations, p.channel, p.key.public, requireApproval);
  // Manifests of the channel's release keys are the ones a new one may be composed on.
  if (trust) for (const k of trust.policy.keys.map((e) => parsePublicKey(e.key))) if (!p.trusted.some((t) => t.key.equals(k.key))) p.trusted.push(k);
  p.trust = trust;
  return trust;
}

/**
 * The trust root beside the channel decides who may sign it: the signing key must be one of
 * the channel's release keys (or machines would refuse everything), and a channel that needs
 * more signatures than one key gives is written only on purpose (`--require-approval`).
 */
async function channelTrust(locations: readonly ChannelLocation[], channel: string, signing: PublicKey, requireApproval: boolean): Promise<PreparedChannel["trust"]> {
  for (const loc of locations) {
    const text = await loc.trustRoot();
    if (text === undefined) continue;
    const where = `the trust root beside ${loc.url}`;
    const root = parseTrustRoot(text, where);
    verifySelfSigned(root, where);
    const policy = channelPolicy(root, channel);
    if (!policy) throw new UsageError(`trust root version ${root.version} names no release keys for channel ${channel}`, "add the channel with oscd trust rotate --channel NAME --add-release-key KEY", "key-not-trusted");
    if (!policy.keys.some((k) => parsePublicKey(k.key).key.equals(signing.key))) {
      throw new GuardError("key-not-trusted", `the signing key ${signing.name} is not a release key of channel ${channel} in trust root version ${root.version} (release keys: ${policy.keys.map((k) => parsePublicKey(k.key).name).join(", ")}); machines would refuse the manifest`, `sign with a release key of the channel, or add ${formatPublicKey(signing)} with oscd trust rotate`);
    }
    if (policy.threshold > 1 && !requireApproval) {
      throw new UsageError(
        `channel ${channel} needs ${policy.threshold} release signatures (trust root version ${root.version}), and one key signs here`,
        "publish with --require-approval: the manifest is written with this signature and waits until other release key holders run oscd manifest sign",
        "approval-required",
      );
    }
    return { root, policy };
  }
  return undefined;
}
