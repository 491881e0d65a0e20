import { readFile, stat } from "node:fs/promises";
import { GuardError, OscdError, UsageError } from "../core/errors.js";
import { BodyTooLargeError, fetchCapped, type CappedResponse } from "../core/fetch-capped.js";
import { checkFreshness, DEFAULT_SKEW_MS, parseManifest, type Manifest } from "../manifest/index.js";
import { parsePublicKey } from "../nix/index.js";
import { MachineTrust, trustLocationBeside, trustSource, type TrustUpdate } from "../trust/index.js";
import type { ReleaseInfo } from "./journal.js";
import { DEFAULT_LAYOUT } from "./layout.js";

/** A manifest is a few KiB per hundred hosts; anything far larger is not one. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 60_000;

export interface ManifestRelease {
  /** This host's toplevel in the manifest. */
  toplevel: string;
  /** The facts the engine guards on and records: version, commit, ref, channel, sequence. */
  release: ReleaseInfo;
  /** Names of the release keys whose signatures counted (at least the channel's threshold). */
  signer: string;
  signers: string[];
  manifest: Manifest;
  /** What was learnt from the trust directory beside the manifest (roots walked, revocations). */
  trust?: TrustUpdate;
  /**
   * Where to realise it from: the caller's substituters first, then the caches the signed
   * manifest names. Safe to follow: every path is still checked against the trusted keys.
   */
  substituters: string[];
}

export interface ManifestReleaseOptions {
  /** A file path or an http(s) URL. */
  location: string;
  /** This host's name in the fleet: its entry is the one taken. */
  host: string;
  /** `name:base64` public keys this machine trusts (machine.toml `trustedPublicKeys`). */
  trustedPublicKeys: readonly string[];
  /** The toplevel the caller named, if any: it must be the manifest's entry for this host. */
  toplevel?: string;
  /** For the expiry check (checkFreshness): this machine's time and the clock skew tolerated. */
  now?: Date;
  skewMs?: number;
  /** Accept a manifest without `expiresAt` (from an oscd before expiry existed). */
  allowNoExpiry?: boolean;
  /** This machine's own substituters, tried before the manifest's caches. */
  substituters?: readonly string[];
  /** The engine's state directory, where the trust state lives (default /var/lib/oscd). */
  stateDir?: string;
  /** The operator-installed first trust root (machine.toml `trustRoot`), used when none is persisted. */
  trustRoot?: string;
  /** Where the trust documents are (default: `trust/` beside the manifest). */
  trustLocation?: string;
  /** Told what the trust walk did, before the manifest is checked (so a refusal still shows it). */
  onTrust?: (u: TrustUpdate) => void;
}

/** Caches a Nix substituter can be: the manifest's other entries (ssh, s3 uploads) are left out. */
const SUBSTITUTER = /^(https?|file):\/\/[^\s]+$/;

/** Text from outside goes into one-line errors: printable ASCII only. */
const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, "?").slice(0, 300);

/** How a location is named in messages: never with credentials or query parameters. */
export function describeLocation(location: string): string {
  if (!/^https?:\/\//i.test(location)) return printable(location);
  try {
    const u = new URL(location);
    return printable(`${u.protocol}//${u.host}${u.pathname}`);
  } catch {
    return "(an unparsable URL)";
  }
}

async function fetchText(location: string, where: string): Promise<string> {
  if (/^https?:\/\//i.test(location)) {
    let res: CappedResponse;
    try {
      // Capped while reading: an endless answer is cut, not read into memory first.
      res = await fetchCapped(location, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), maxBytes: MAX_MANIFEST_BYTES });
    } catch (e) {
      if (e instanceof BodyTooLargeError) throw new GuardError("manifest-format", `${where} is larger than ${MAX_MANIFEST_BYTES} bytes, larger than any manifest (nothing past that was read)`, "check the URL");
      throw new OscdError("manifest-unreachable", `cannot fetch ${where}: ${printable(e instanceof Error ? e.message : String(e))}`, { hint: "check the URL and that this machine can reach it" });
    }
    if (res.status !== 200) throw new OscdError("manifest-unreachable", `cannot fetch ${where}: HTTP ${res.status}`, { hint: "check the URL (oscd publish writes channels/<channel>.json in each cache)" });
    return res.text;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) throw new UsageError(`--manifest takes a file path or an http(s) URL, not ${where}`, "download the manifest and pass its path", "manifest-location");
  try {
    const st = await stat(location);
    if (st.size > MAX_MANIFEST_BYTES) throw new GuardError("manifest-format", `${where} is ${st.size} bytes, larger than any manifest`, "check the path");
    const text = await readFile(location);
    if (text.length > MAX_MANIFEST_BYTES) throw new GuardError("manifest-format", `${where} is ${text.length} bytes, larger than any manifest`, "check the path");
    return text.toString("utf8");
  } catch (e) {
    if (e instanceof OscdError) throw e;
    throw new UsageError(`cannot read ${where}: ${(e as NodeJS.ErrnoException).code ?? "error"}`, "check the path of the manifest", "manifest-unreadable");
  }
}

function checkKeys(texts: readonly string[]): void {
  for (const t of texts) {
    try {
      parsePublicKey(t);
    } catch (e) {
      throw new UsageError(`a trusted public key of this machine is not valid: ${printable(e instanceof Error ? e.message : String(e))}`, "fix trustedPublicKeys in /etc/oscd/machine.toml", "machine-config");
    }
  }
}

/**
 * Reads a channel manifest and turns this host's entry into an activation: the signature must
 * be by a key this machine trusts, it must not have expired, it must name this host, and a toplevel the caller
 * gave must be that entry. The sequence is not checked here: the engine's guard compares it
 * with the last one this host applied from the channel, under the host lock, and commit records
 * it, so every caller (CLI, agent, push deploys) gets the same replay protection.
 */
export async function releaseFromManifest(o: ManifestReleaseOptions): Promise<ManifestRelease> {
  const where = describeLocation(o.location);
  const text = await fetchText(o.location, where);
  checkKeys(o.trustedPublicKeys);
  const trust = await MachineTrust.load({ stateDir: o.stateDir ?? DEFAULT_LAYOUT.stateDir, trustedPublicKeys: o.trustedPublicKeys, bootstrap: o.trustRoot });
  // Newer trust roots and the channel's revocation list are fetched from beside the manifest
  // and walked before it is checked, so a machine that missed rotations catches up here.
  const channel = peekChannel(text);
  const update = await trust.update(trustSource(o.trustLocation ?? trustLocationBeside(o.location)), { channel });
  o.onTrust?.(update);
  return { ...releaseFromManifestText(text, where, o, trust), trust: update };
}

/** The channel a manifest says it is for, to fetch that channel's revocations (checked again after verification). */
function peekChannel(text: string): string | undefined {
  try {
    return parseManifest(text).channel;
  } catch {
    return undefined;
  }
}

/**
 * The same for manifest text the caller fetched itself (the agent, with conditional requests);
 * `where` names it in errors and must carry no credentials (see describeLocation).
 */
export function releaseFromManifestText(text: string, where: string, o: Omit<ManifestReleaseOptions, "location">, trust: MachineTrust): ManifestRelease {
  const manifest = parseManifest(text, where);
  // One time for the whole check: the trust root's and the manifest's expiry are judged alike.
  const now = o.now ?? new Date();
  const verified = trust.verifyManifest(manifest, where, now);
  // Signed but expired is refused too: a replayed last-good manifest must not freeze the host.
  checkFreshness(manifest, { now, skewMs: o.skewMs ?? DEFAULT_SKEW_MS, allowNoExpiry: o.allowNoExpiry });
  const entry = Object.hasOwn(manifest.hosts, o.host) ? manifest.hosts[o.host] : undefined;
  const what = `${where} (channel ${manifest.channel}, sequence ${manifest.sequence})`;
  if (!entry) {
    throw new GuardError("manifest-no-host", `${what} has no entry for host ${printable(o.host)}`, "check --host (or host in /etc/oscd/machine.toml), or publish the channel with this host");
  }
  if (o.toplevel !== undefined && o.toplevel !== entry.toplevel) {
    throw new GuardError("manifest-mismatch", `${printable(o.toplevel)} is not what ${what} names for host ${printable(o.host)} (${entry.toplevel})`, "leave out the toplevel argument to deploy the manifest's system, or pass the one it names");
  }
  trust.assertNotRevoked({ channel: manifest.channel, sequence: manifest.sequence, commit: manifest.commit, toplevel: entry.toplevel }, `${what}'s entry for ${printable(o.host)}`);
  return {
    toplevel: entry.toplevel,
    release: { version: manifest.version, commit: manifest.commit, ref: manifest.ref, channel: manifest.channel, sequence: manifest.sequence, ...(verified.epoch !== undefined ? { epoch: verified.epoch } : {}) },
    signer: verified.signers.map((k) => k.name).join(", "),
    signers: verified.signers.map((k) => k.name),
    manifest,
    substituters: [...new Set([...(o.substituters ?? []), ...manifest.caches.filter((c) => SUBSTITUTER.test(c))])],
  };
}
