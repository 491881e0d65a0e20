import { join } from "node:path";
import { UsageError } from "../core/errors.js";
import { pinFleet, type PinnedFleet, type PinOptions } from "../builder/index.js";
import { checkStoreUrl, type PublicKey } from "../nix/index.js";
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
  if (pinned.uncommittedChanges) warnings.push(`${pinned.repo} has uncommitted changes; they are not published (only commit ${source.commit.slice(0, 12)} is)`);
  const channel = pickChannel(opts.channel, fleet.config.channels);
  const trusted = trustedKeysFor(key, fleet.config.keys.trusted);
  if (fleet.config.keys.trusted.length === 0) warnings.push("oscd.toml lists no keys.trusted; machines must trust the signing key through nix.settings.trusted-public-keys");
  const caches = opts.caches && opts.caches.length > 0 ? opts.caches : fleet.config.caches;
  if (caches.length === 0) throw new UsageError("no binary cache to publish to", 'add caches = ["file:///srv/nix-cache"] (or an https://, ssh-ng:// or s3:// URL) to oscd.toml, or pass --cache URL', "no-cache");
  caches.forEach(checkStoreUrl);
  const { locations, skipped } = channelLocations(caches, channel, opts.manifestOut);
  for (const s of skipped) warnings.push(`no manifest is written to ${redactUrl(s)} (a Nix store holds store paths only); pass --manifest-out DIR to put it where machines read it`);
  const [primary, ...others] = locations;
  if (!primary) throw new UsageError(`none of the caches (${caches.map(redactUrl).join(", ")}) can hold a manifest`, "pass --manifest-out DIR, or add a file:// or http(s):// cache", "no-manifest-location");
  return { key, pinned, channel, trusted, caches, locations, primary, others };
}
