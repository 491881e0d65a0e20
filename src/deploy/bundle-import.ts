import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { GuardError, OscdError } from "../core/errors.js";
import { activate, lastAppliedSequence, DEFAULT_LAYOUT, type ActivationRequest, type ActivationResult } from "../activate/index.js";
import { readLinkOrUndefined } from "../core/fs.js";
import { ownEntry } from "../fleet/index.js";
import { NarInfoFormatError, nixBase32, parseNarInfo, parsePublicKey, verifyNarInfo, STORE_DIR, type PublicKey } from "../nix/index.js";
import { parseManifest, type Manifest } from "../publish/index.js";
import { directorySource, MachineTrust, ReleaseRevokedError, type TrustUpdate } from "../trust/index.js";
import { BUNDLE_CACHE, BUNDLE_MANIFEST, BUNDLE_TRUST } from "./bundle.js";

export class BundleRefusedError extends GuardError {
  constructor(dir: string, cause: string) {
    super("bundle-refused", `bundle ${dir} refused, nothing imported: ${cause}`, "carry a bundle made by oscd bundle with a key this machine trusts, for this host, and check the copy (a damaged byte is refused)");
  }
}

export interface VerifiedBundle {
  dir: string;
  manifest: Manifest;
  host: string;
  toplevel: string;
  /** Every store path of the toplevel's closure found in the bundle, each checked. */
  paths: string[];
  /** The channel's sequence epoch in the trust root the manifest was checked with. */
  epoch?: string;
  /** Trust roots walked and revocations taken from the bundle's `trust/`. */
  trust: TrustUpdate;
}

export interface BundleTrustOptions {
  /** The engine's state directory (the trust state is kept there); default /var/lib/oscd. */
  stateDir?: string;
  /** machine.toml `trustRoot`. */
  trustRoot?: string;
  now?: Date;
}

const MAX_MANIFEST_BYTES = 1 << 20;
const BASE = /^[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+$/;

async function sha256File(path: string): Promise<{ hash: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    h.update(chunk);
    size += chunk.length;
  }
  return { hash: `sha256:${nixBase32(h.digest())}`, size };
}

/**
 * Checks a bundle completely before anything is imported: the manifest's signature by a key
 * this machine trusts, an entry for this host, and for every path of that toplevel's closure a
 * narinfo signed by a trusted key whose NAR file has exactly the signed hash and size. Any
 * failure refuses the whole bundle with its cause (exit 3).
 */
export async function verifyBundle(dirIn: string, host: string, trusted: readonly string[], opts: BundleTrustOptions = {}): Promise<VerifiedBundle> {
  const dir = resolve(dirIn);
  const refuse = (cause: string): never => {
    throw new BundleRefusedError(dir, cause);
  };
  const now = opts.now ?? new Date();
  const mpath = join(dir, BUNDLE_MANIFEST);
  const st = await lstat(mpath).catch(() => refuse(`it has no ${BUNDLE_MANIFEST}`));
  if (!st.isFile() || st.size > MAX_MANIFEST_BYTES) refuse(`${BUNDLE_MANIFEST} is not a regular file of at most 1 MiB`);
  let manifest: Manifest;
  let trust: MachineTrust;
  let update: TrustUpdate;
  let epoch: string | undefined;
  try {
    manifest = parseManifest(await readFile(mpath, "utf8"), BUNDLE_MANIFEST);
    trust = await MachineTrust.load({ stateDir: opts.stateDir ?? DEFAULT_LAYOUT.stateDir, trustedPublicKeys: trusted, bootstrap: opts.trustRoot });
    // A bundle carries the trust roots and revocations of its time: a machine without network
    // walks the rotations it missed from the bundle itself.
    update = await trust.update(directorySource(join(dir, BUNDLE_TRUST)), { channel: manifest.channel });
    epoch = trust.verifyManifest(manifest, BUNDLE_MANIFEST, now).epoch;
  } catch (e) {
    return refuse(e instanceof OscdError ? e.message : String(e));
  }
  const keys: PublicKey[] = trust.cacheKeys(trusted).map((k) => parsePublicKey(k));
  if (keys.length === 0) refuse("this machine trusts no keys (trustedPublicKeys in /etc/oscd/machine.toml), so nothing can be checked");
  const entry = ownEntry(manifest.hosts, host);
  if (!entry) return refuse(`it is for ${Object.keys(manifest.hosts).join(", ") || "no host"}, not for ${host}`);
  const revoked = trust.findRevoked({ channel: manifest.channel, sequence: manifest.sequence, commit: manifest.commit, toplevel: entry.toplevel });
  // The same code as every other way in: a revoked release is refused alike, nothing imported.
  if (revoked) throw new ReleaseRevokedError(revoked, `bundle ${dir} (channel ${manifest.channel}, sequence ${manifest.sequence}) for ${host}`);
  const cache = join(dir, BUNDLE_CACHE);
  const seen = new Set<string>();
  const queue = [entry.toplevel];
  while (queue.length > 0) {
    const path = queue.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    const base = path.slice(STORE_DIR.length + 1);
    if (!path.startsWith(`${STORE_DIR}/`) || !BASE.test(base)) refuse(`a reference ${JSON.stringify(path.slice(0, 80))} is not a store path`);
    const hash = base.slice(0, 32);
    const text = await readFile(join(cache, `${hash}.narinfo`), "utf8").catch(() => refuse(`${path} is missing from the bundle`));
    let info;
    try {
      info = parseNarInfo(text);
    } catch (e) {
      return refuse(`${hash}.narinfo: ${e instanceof NarInfoFormatError ? e.message : String(e)}`);
    }
    if (info.storePath !== path) refuse(`${hash}.narinfo names ${info.storePath}, not ${path}`);
    if (!verifyNarInfo(info, keys)) refuse(`${path} is not signed by a trusted key (or its narinfo was changed after signing)`);
    if (info.compression !== "none") refuse(`${path} is stored with compression ${info.compression}; oscd bundles are uncompressed so every byte is checked here`);
    if (!/^nar\/[0-9a-z]+\.nar$/.test(info.url)) refuse(`${path} has a NAR URL outside the bundle: ${JSON.stringify(info.url.slice(0, 80))}`);
    const nar = await sha256File(join(cache, info.url)).catch(() => refuse(`the NAR of ${path} is missing`));
    if (nar.size !== info.narSize || nar.hash !== info.narHash) refuse(`the NAR of ${path} does not match its signed hash (damaged or changed)`);
    for (const r of info.references) {
      const ref = `${STORE_DIR}/${r}`;
      if (!seen.has(ref)) queue.push(ref);
    }
  }
  return { dir, manifest, host, toplevel: entry.toplevel, paths: [...seen], epoch, trust: update };
}

export interface BundleActivation extends Omit<ActivationRequest, "toplevel" | "release" | "substituters" | "trustedPublicKeys" | "host"> {
  host: string;
  trustedPublicKeys: string[];
}

/**
 * `oscd activate --bundle DIR`: verify everything, then let the engine import the closure from
 * the bundle's cache (Nix checks the signatures again) and activate it with the manifest's
 * release facts, so its guards apply (host identity, no downgrade, no replay of an older bundle).
 */
export async function activateBundle(dir: string, req: BundleActivation): Promise<{ bundle: VerifiedBundle; result: ActivationResult }> {
  const layout = req.layout ?? DEFAULT_LAYOUT;
  const bundle = await verifyBundle(dir, req.host, req.trustedPublicKeys, { stateDir: layout.stateDir, trustRoot: req.trustRoot });
  const m = bundle.manifest;
  // An older bundle is a replay: refused before its closure is imported (the engine would
  // refuse it too, but only after realising it). The running system again is left to the engine.
  const last = await lastAppliedSequence(layout, m.channel, bundle.epoch);
  const running = await readLinkOrUndefined(join(layout.runDir, "current-system"));
  if (last !== undefined && m.sequence <= last && running !== bundle.toplevel) {
    throw new BundleRefusedError(bundle.dir, `its sequence ${m.sequence} on channel ${m.channel} is not newer than ${last}, the last one this host applied (a replay)`);
  }
  const result = await activate({
    ...req,
    toplevel: bundle.toplevel,
    substituters: [`file://${join(bundle.dir, BUNDLE_CACHE)}`],
    trustedPublicKeys: req.trustedPublicKeys,
    release: { version: m.version || undefined, commit: m.commit, ref: m.ref, channel: m.channel, sequence: m.sequence, ...(bundle.epoch !== undefined ? { epoch: bundle.epoch } : {}) },
  });
  return { bundle, result };
}
