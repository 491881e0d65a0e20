import { UsageError } from "../core/errors.js";
import { formatPublicKey, parsePublicKey, type PublicKey } from "../nix/index.js";
import { ANY_CHANNEL, channelPolicy, REVOCATIONS_SCHEMA, TRUST_SCHEMA, type ChannelPolicy, type KeyEntry, type Revocations, type RevocationsBody, type Revoked, type TrustBody, type TrustRoot } from "./schema.js";

/**
 * Making trust documents (`oscd trust init|rotate|revoke`): pure functions from flags to the
 * next unsigned body. Signing is separate (sign.ts), so a body can be passed from one key
 * holder to the next.
 */
export const DEFAULT_TRUST_VALIDITY_MS = 365 * 24 * 3600_000;

const keyText = (k: PublicKey) => formatPublicKey(k);

export interface InitSpec {
  rootKeys: PublicKey[];
  rootThreshold?: number;
  releaseKeys: PublicKey[];
  releaseThreshold?: number;
  /** Channels the release keys sign for (default: every channel, `*`). */
  channels?: string[];
  /** Default: the release keys (one key signs closures and manifests, as before). */
  cacheKeys?: PublicKey[];
  onRevoked?: ChannelPolicy["onRevoked"];
  now: Date;
  validForMs?: number;
}

function threshold(n: number | undefined, keys: number, what: string): number {
  const t = n ?? 1;
  if (!Number.isInteger(t) || t < 1 || t > keys) throw new UsageError(`${what} threshold ${t} cannot be met with ${keys} key(s)`, `give a threshold from 1 to ${keys}`, "trust-usage");
  return t;
}

export function initTrust(s: InitSpec): TrustBody {
  if (s.rootKeys.length === 0) throw new UsageError("a trust root needs at least one root key (--root-key)", "make one with `oscd keys generate root-1` and keep its secret offline", "trust-usage");
  if (s.releaseKeys.length === 0) throw new UsageError("a trust root needs at least one release key (--release-key)", "the key CI signs manifests with, e.g. --release-key fleet-1.public", "trust-usage");
  const release: ChannelPolicy = { keys: s.releaseKeys.map((k) => ({ key: keyText(k) })), threshold: threshold(s.releaseThreshold, s.releaseKeys.length, "the release"), ...(s.onRevoked ? { onRevoked: s.onRevoked } : {}) };
  const channels = s.channels && s.channels.length > 0 ? s.channels : [ANY_CHANNEL];
  return {
    schema: TRUST_SCHEMA,
    version: 1,
    createdAt: s.now.toISOString(),
    expiresAt: new Date(s.now.getTime() + (s.validForMs ?? DEFAULT_TRUST_VALIDITY_MS)).toISOString(),
    root: { keys: s.rootKeys.map((k) => ({ key: keyText(k) })), threshold: threshold(s.rootThreshold, s.rootKeys.length, "the root") },
    channels: Object.fromEntries(channels.map((c) => [c, structuredClone(release)])),
    cacheKeys: [...new Set((s.cacheKeys && s.cacheKeys.length > 0 ? s.cacheKeys : s.releaseKeys).map(keyText))],
  };
}

export interface RotateSpec {
  addRootKeys?: PublicKey[];
  removeRootKeys?: string[];
  rootThreshold?: number;
  /** The channel the release key changes apply to (default `*`, or the only channel). */
  channel?: string;
  addReleaseKeys?: PublicKey[];
  removeReleaseKeys?: string[];
  releaseThreshold?: number;
  onRevoked?: ChannelPolicy["onRevoked"];
  addCacheKeys?: PublicKey[];
  removeCacheKeys?: string[];
  /** `name=time`: nothing the key signed before that time counts. */
  rejectBefore?: { name: string; time: string }[];
  /** Start a new sequence epoch on the channel even without removing a key. */
  resetSequences?: boolean;
  now: Date;
  validForMs?: number;
}

function withoutKeys(keys: KeyEntry[], remove: readonly string[] | undefined, what: string): KeyEntry[] {
  if (!remove || remove.length === 0) return keys;
  for (const name of remove) if (!keys.some((k) => parsePublicKey(k.key).name === name)) throw new UsageError(`there is no ${what} key named ${name}`, `${what} keys: ${keys.map((k) => parsePublicKey(k.key).name).join(", ")}`, "trust-usage");
  return keys.filter((k) => !remove.includes(parsePublicKey(k.key).name));
}

function withKeys(keys: KeyEntry[], add: readonly PublicKey[] | undefined): KeyEntry[] {
  const out = [...keys];
  for (const k of add ?? []) if (!out.some((e) => parsePublicKey(e.key).key.equals(k.key))) out.push({ key: keyText(k) });
  return out;
}

/**
 * The next version of a trust root: the changes asked for, a new creation time and expiry,
 * and no signatures (the old and the new root keys sign it). Removing a release key starts a
 * new sequence epoch on that channel: what a removed (perhaps leaked) key signed, huge
 * sequences included, no longer holds the channel.
 */
export function rotateTrust(prev: TrustRoot | TrustBody, s: RotateSpec): TrustBody {
  const { signatures: _drop, ...body } = prev as TrustRoot;
  const next: TrustBody = structuredClone(body);
  next.version = prev.version + 1;
  next.createdAt = s.now.toISOString();
  next.expiresAt = new Date(s.now.getTime() + (s.validForMs ?? DEFAULT_TRUST_VALIDITY_MS)).toISOString();
  next.root.keys = withKeys(withoutKeys(next.root.keys, s.removeRootKeys, "root"), s.addRootKeys);
  if (next.root.keys.length === 0) throw new UsageError("the rotation would leave no root key", "add a root key (--add-root-key) when removing the last one", "trust-usage");
  next.root.threshold = threshold(s.rootThreshold ?? Math.min(next.root.threshold, next.root.keys.length), next.root.keys.length, "the root");

  const touchesChannel = s.addReleaseKeys?.length || s.removeReleaseKeys?.length || s.releaseThreshold !== undefined || s.onRevoked !== undefined || s.resetSequences;
  if (touchesChannel) {
    const names = Object.keys(next.channels);
    const channel = s.channel ?? (names.length === 1 ? (names[0] as string) : ANY_CHANNEL);
    const base = Object.hasOwn(next.channels, channel) ? next.channels[channel] : channelPolicy(next, channel);
    if (!base) throw new UsageError(`the trust root has no channel ${channel} and no * entry to start it from`, `channels: ${names.join(", ")}`, "trust-usage");
    const policy: ChannelPolicy = structuredClone(base);
    policy.keys = withKeys(withoutKeys(policy.keys, s.removeReleaseKeys, "release"), s.addReleaseKeys);
    if (policy.keys.length === 0) throw new UsageError(`the rotation would leave channel ${channel} without release keys`, "add one with --add-release-key", "trust-usage");
    policy.threshold = threshold(s.releaseThreshold ?? Math.min(policy.threshold, policy.keys.length), policy.keys.length, `channel ${channel}'s release`);
    if (s.onRevoked !== undefined) policy.onRevoked = s.onRevoked;
    if ((s.removeReleaseKeys?.length ?? 0) > 0 || s.resetSequences) policy.sequenceEpoch = s.now.toISOString();
    next.channels[channel] = policy;
  }
  next.cacheKeys = [...new Set([...next.cacheKeys.filter((k) => !(s.removeCacheKeys ?? []).includes(parsePublicKey(k).name)), ...(s.addCacheKeys ?? []).map(keyText)])];
  for (const n of s.removeCacheKeys ?? []) if (!prev.cacheKeys.some((k) => parsePublicKey(k).name === n)) throw new UsageError(`there is no cache key named ${n}`, `cache keys: ${prev.cacheKeys.map((k) => parsePublicKey(k).name).join(", ")}`, "trust-usage");
  if (next.cacheKeys.length === 0) throw new UsageError("the rotation would leave no cache key", "add one with --add-cache-key", "trust-usage");

  for (const { name, time } of s.rejectBefore ?? []) {
    if (!Number.isFinite(Date.parse(time))) throw new UsageError(`--reject-before ${name}=${time}: not a time`, "give an ISO 8601 time, e.g. 2026-11-20T08:00:00Z", "trust-usage");
    const iso = new Date(time).toISOString();
    let found = false;
    for (const role of [next.root, ...Object.values(next.channels)]) {
      for (const k of role.keys) if (parsePublicKey(k.key).name === name) {
        k.rejectBefore = iso;
        found = true;
      }
    }
    if (!found) throw new UsageError(`--reject-before ${name}: no root or release key has that name`, "name a key of the trust root", "trust-usage");
  }
  return next;
}

export interface RevokeSpec {
  channel: string;
  sequences?: number[];
  commits?: string[];
  toplevels?: string[];
  reason: string;
  now: Date;
}

/** The next revocation list of a channel: the previous entries plus the new ones, one version up. */
export function nextRevocations(prev: Revocations | undefined, s: RevokeSpec): RevocationsBody {
  if (prev && prev.channel !== s.channel) throw new UsageError(`the previous list is for channel ${prev.channel}, not ${s.channel}`, "pass the channel's own list with --previous", "trust-usage");
  const added: Revoked[] = [
    ...(s.sequences ?? []).map((sequence) => ({ sequence, reason: s.reason })),
    ...(s.commits ?? []).map((commit) => ({ commit, reason: s.reason })),
    ...(s.toplevels ?? []).map((toplevel) => ({ toplevel, reason: s.reason })),
  ];
  const old = prev?.revoked ?? [];
  const isNew = (r: Revoked) => !old.some((o) => o.sequence === r.sequence && o.commit === r.commit && o.toplevel === r.toplevel);
  return { schema: REVOCATIONS_SCHEMA, channel: s.channel, version: (prev?.version ?? 0) + 1, createdAt: s.now.toISOString(), revoked: [...old, ...added.filter(isNew)] };
}
