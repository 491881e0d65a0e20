import { join, resolve } from "node:path";
import { GuardError, OscdError, isOscdError } from "../core/errors.js";
import { activate, lastAppliedSequence, DEFAULT_LAYOUT, type ActivationRequest, type ActivationResult } from "../activate/index.js";
import { readLinkOrUndefined } from "../core/fs.js";
import { ownEntry } from "../fleet/index.js";
import { MAX_NARINFO_BYTES, NarInfoFormatError, parseNarInfo, parsePublicKey, verifyNarInfo, STORE_DIR, type PublicKey } from "../nix/index.js";
import { checkFreshness, parseManifest, DEFAULT_SKEW_MS, ManifestExpiredError, type Manifest } from "../publish/index.js";
import { isTrustDocumentName, MachineTrust, ReleaseRevokedError, type TrustSource, type TrustUpdate } from "../trust/index.js";
import { BUNDLE_CACHE, BUNDLE_MANIFEST, BUNDLE_TRUST } from "./bundle.js";
import { BundleDir, BundleFileError } from "./bundle-files.js";

export class BundleRefusedError extends GuardError {
  constructor(dir: string, cause: string, code = "bundle-refused", hint = "carry a bundle made by oscd bundle with a key this machine trusts, for this host, and check the copy (a damaged byte is refused)") {
    super(code, `bundle ${dir} refused, nothing imported: ${cause}`, hint);
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

/** What the operator accepts beyond the default checks (the flags of oscd activate --bundle), and where the trust state is. */
export interface BundleChecks {
  /** The engine's state directory (the trust state is kept there); default /var/lib/oscd. */
  stateDir?: string;
  /** machine.toml `trustRoot`. */
  trustRoot?: string;
  /** The time expiry is checked against (default now). */
  now?: Date;
  /** Accept a bundle whose `expiresAt` has passed (`--allow-expired`). */
  allowExpired?: boolean;
  /** Accept a bundle without `expiresAt`, made by an oscd before bundles expired (`--allow-no-expiry`). */
  allowNoExpiry?: boolean;
}

const MAX_MANIFEST_BYTES = 1 << 20;
const BASE = /^[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+$/;
const EXPIRED_HINT = "make a new bundle (oscd bundle, --valid-for sets how long it may be used); to install this one anyway, for a machine whose clock is wrong say, pass --allow-expired";

/**
 * Checks a bundle completely before anything is imported: the manifest's signature by a key
 * this machine trusts, an entry for this host, its expiry, and for every path of that
 * toplevel's closure a narinfo signed by a trusted key whose NAR file has exactly the signed
 * hash and size. Every file is a regular file opened without following links and read no
 * further than a cap or its signed size (bundle-files.ts). Any failure refuses the whole
 * bundle with its cause (exit 3), naming the file, never its content.
 */
export async function verifyBundle(dirIn: string, host: string, trusted: readonly string[], checks: BundleChecks = {}): Promise<VerifiedBundle> {
  const dir = resolve(dirIn);
  const refuse = (cause: string): never => {
    throw new BundleRefusedError(dir, cause);
  };
  const now = checks.now ?? new Date();
  const opened: BundleDir[] = [];
  try {
    const root = await BundleDir.openRoot(dir);
    opened.push(root);
    const mfile = await root.file(BUNDLE_MANIFEST);
    if (!mfile) return refuse(`it has no ${BUNDLE_MANIFEST}`);
    let manifest: Manifest;
    let trust: MachineTrust;
    let update: TrustUpdate;
    let epoch: string | undefined;
    try {
      manifest = parseManifest(await mfile.text(MAX_MANIFEST_BYTES), BUNDLE_MANIFEST);
      trust = await MachineTrust.load({ stateDir: checks.stateDir ?? DEFAULT_LAYOUT.stateDir, trustedPublicKeys: trusted, bootstrap: checks.trustRoot });
      // A bundle carries the trust roots and revocations of its time: a machine without network
      // walks the rotations it missed from the bundle itself, read as carefully as the rest.
      update = await trust.update(await bundleTrustSource(root, opened), { channel: manifest.channel });
      epoch = trust.verifyManifest(manifest, BUNDLE_MANIFEST, now).epoch;
    } catch (e) {
      if (e instanceof BundleFileError) throw e;
      return refuse(e instanceof OscdError ? e.message : String(e));
    }
    const keys: PublicKey[] = trust.cacheKeys(trusted).map((k) => parsePublicKey(k));
    if (keys.length === 0) refuse("this machine trusts no keys (trustedPublicKeys in /etc/oscd/machine.toml), so nothing can be checked");
    const entry = ownEntry(manifest.hosts, host);
    if (!entry) return refuse(`it is for ${Object.keys(manifest.hosts).join(", ") || "no host"}, not for ${host}`);
    const revoked = trust.findRevoked({ channel: manifest.channel, sequence: manifest.sequence, commit: manifest.commit, toplevel: entry.toplevel });
    // The same code as every other way in: a revoked release is refused alike, nothing imported.
    if (revoked) throw new ReleaseRevokedError(revoked, `bundle ${dir} (channel ${manifest.channel}, sequence ${manifest.sequence}) for ${host}`);
    checkBundleExpiry(dir, manifest, checks);
    const cache = await root.dir(BUNDLE_CACHE);
    opened.push(cache);
    let nars: BundleDir | undefined;
    const seen = new Set<string>();
    const queue = [entry.toplevel];
    while (queue.length > 0) {
      const path = queue.pop() as string;
      if (seen.has(path)) continue;
      seen.add(path);
      const base = path.slice(STORE_DIR.length + 1);
      if (!path.startsWith(`${STORE_DIR}/`) || !BASE.test(base)) refuse("a reference is not a store path");
      const hash = base.slice(0, 32);
      const name = `${hash}.narinfo`;
      const file = await cache.file(name);
      if (!file) return refuse(`${path} is missing from the bundle`);
      let info;
      try {
        info = parseNarInfo(await file.text(MAX_NARINFO_BYTES));
      } catch (e) {
        if (e instanceof NarInfoFormatError) return refuse(`${BUNDLE_CACHE}/${name}${e.line === undefined ? "" : ` line ${e.line}:`} ${e.reason}`);
        throw e;
      }
      if (info.storePath !== path) refuse(`${BUNDLE_CACHE}/${name} names another store path than ${path}`);
      if (!verifyNarInfo(info, keys)) refuse(`${path} is not signed by a trusted key (or its narinfo was changed after signing)`);
      if (info.compression !== "none") refuse(`${path} is stored compressed; oscd bundles are uncompressed so every byte is checked here`);
      const narName = /^nar\/([0-9a-z]+\.nar)$/.exec(info.url)?.[1];
      if (narName === undefined) return refuse(`the NAR URL of ${path} is not nar/<name>.nar, inside the bundle`);
      if (!nars) {
        nars = await cache.dir("nar");
        opened.push(nars);
      }
      const narFile = await nars.file(narName);
      if (!narFile) return refuse(`the NAR of ${path} is missing`);
      const nar = await narFile.narHash(info.narSize);
      if (nar.size !== info.narSize || nar.hash !== info.narHash) refuse(`the NAR of ${path} does not match its signed hash (damaged or changed)`);
      for (const r of info.references) {
        const ref = `${STORE_DIR}/${r}`;
        if (!seen.has(ref)) queue.push(ref);
      }
    }
    return { dir, manifest, host, toplevel: entry.toplevel, paths: [...seen], epoch, trust: update };
  } catch (e) {
    if (e instanceof BundleFileError) return refuse(e.message);
    throw e;
  } finally {
    for (const d of opened) await d.close();
  }
}

/**
 * Bundles expire like manifests (TUF's freeze attack: an old signed bundle must not stay good
 * for ever). Expired: refused unless the operator says `--allow-expired`. A bundle from before
 * expiry existed carries none: the check cannot be made, so it is refused unless the operator
 * says `--allow-no-expiry` (the manifest's own opt-out).
 */
function checkBundleExpiry(dir: string, m: Manifest, checks: BundleChecks): void {
  try {
    checkFreshness(m, { now: checks.now ?? new Date(), skewMs: DEFAULT_SKEW_MS, allowNoExpiry: checks.allowNoExpiry });
  } catch (e) {
    if (e instanceof ManifestExpiredError) {
      if (checks.allowExpired) return;
      throw new BundleRefusedError(dir, `it expired at ${e.expiresAt} (now ${(checks.now ?? new Date()).toISOString()})`, "bundle-expired", EXPIRED_HINT);
    }
    if (isOscdError(e) && e.code === "manifest-no-expiry") {
      throw new BundleRefusedError(dir, "it has no expiry (expiresAt), so it could be carried to this machine for ever", "bundle-no-expiry", "make a new bundle with this oscd; to install one made before bundles expired, pass --allow-no-expiry");
    }
    throw new BundleRefusedError(dir, isOscdError(e) ? e.message : String(e));
  }
}

/** The bundle's `trust/` directory as a trust source (no links followed, capped); none: an empty source. */
async function bundleTrustSource(root: BundleDir, opened: BundleDir[]): Promise<TrustSource> {
  let dir: BundleDir | undefined;
  try {
    dir = await root.dir(BUNDLE_TRUST);
    opened.push(dir);
  } catch (e) {
    if (!(e instanceof BundleFileError) || !/has no/.test(e.message)) throw e;
  }
  return {
    describe: (name) => `${BUNDLE_TRUST}/${name}`,
    get: async (name, max) => {
      if (!dir || !isTrustDocumentName(name)) return undefined;
      const f = await dir.file(name);
      return f ? f.text(max) : undefined;
    },
  };
}

export interface BundleActivation extends Omit<ActivationRequest, "toplevel" | "release" | "substituters" | "trustedPublicKeys" | "host"> {
  host: string;
  trustedPublicKeys: string[];
  /** Beyond the default checks: an expired bundle, or one without expiry. */
  checks?: BundleChecks;
}

/**
 * `oscd activate --bundle DIR`: verify everything, then let the engine import the closure from
 * the bundle's cache (Nix checks the signatures again) and activate it with the manifest's
 * release facts, so its guards apply (host identity, no downgrade, no replay of an older bundle).
 */
export async function activateBundle(dir: string, { checks, ...req }: BundleActivation): Promise<{ bundle: VerifiedBundle; result: ActivationResult }> {
  const layout = req.layout ?? DEFAULT_LAYOUT;
  const bundle = await verifyBundle(dir, req.host, req.trustedPublicKeys, { ...checks, stateDir: layout.stateDir, trustRoot: req.trustRoot });
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
