import { copyFile, lstat, mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { OscdError, UsageError } from "../core/errors.js";
import { buildHosts, buildTargets, pinFleet } from "../builder/index.js";
import { copyTo, signPaths } from "../nix/index.js";
import { checkChannelName, expiryFrom, loadSigningKey, serializeManifest, signManifest, MANIFEST_SCHEMA, type ManifestBody } from "../publish/index.js";
import { writeFileAtomic } from "../core/atomic.js";
import { isTrustDocumentName } from "../trust/index.js";
import { dryRunPlan, type DryRunPlan } from "../core/dry-run.js";

/** Layout of a bundle directory: a signed manifest and a file binary cache of the closures. */
export const BUNDLE_MANIFEST = "manifest.json";
export const BUNDLE_CACHE = "cache";
/** Trust roots and revocation lists the machine walks before checking the manifest (src/trust). */
export const BUNDLE_TRUST = "trust";
/**
 * How long a bundle may be installed unless told otherwise: longer than a channel manifest's
 * week, since a bundle travels by hand, yet bounded, so an old signed bundle found in a drawer
 * does not stay good for ever (the machines refuse it after `expiresAt`).
 */
export const DEFAULT_BUNDLE_VALIDITY_MS = 30 * 24 * 3_600_000;

export interface BundleOptions {
  repo?: string;
  ref?: string;
  stateDir?: string;
  rootsDir?: string;
  selection: string;
  outDir: string;
  /** Nix secret key file (or $OSCD_SIGNING_KEY_FILE): signs the narinfos and the manifest. */
  keyFile?: string;
  channel?: string;
  /** Default: seconds since the epoch, so a later bundle is newer on the host (no replay). */
  sequence?: number;
  /** How long machines may install it (its signed `expiresAt`); default 30 days. */
  validForMs?: number;
  builders?: string;
  /**
   * A directory of trust documents (a channel's `trust/`: `root.json`, `<N>.root.json`,
   * `<channel>.revocations.json`) carried in the bundle, so a machine without network walks
   * the trust roots it missed and learns the revocations before it checks the manifest.
   */
  trustDir?: string;
  onProgress?: (line: string) => void;
  /** Check, pin and build (GC roots kept), then say what would be written: no directory, cache or manifest. */
  dryRun?: boolean;
}

export interface BundleReport {
  dir: string;
  manifest: ManifestBody;
  hosts: { name: string; toplevel: string }[];
  /** With `dryRun`: what a real run writes into the directory (and nothing was). */
  plan?: DryRunPlan;
}

/**
 * `oscd bundle`: the selected hosts built here, their closures as a signed, uncompressed file
 * binary cache (so the machine can check every NAR's hash itself before importing), and a
 * signed manifest naming each host's toplevel, in one directory to carry to machines without
 * network (004: `nix copy --to file://…`).
 */
export async function createBundle(o: BundleOptions): Promise<BundleReport> {
  const say = o.onProgress ?? (() => undefined);
  const key = await loadSigningKey(o.keyFile);
  const channel = checkChannelName(o.channel ?? "bundle");
  const dir = resolve(o.outDir);
  const existing = await readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? [] : Promise.reject(e)));
  if (existing.length > 0) throw new UsageError(`${dir} is not empty`, "give a new directory with -o; a bundle is never written over other files", "bundle-dir-not-empty");
  const pinned = await pinFleet({ repo: o.repo, ref: o.ref, stateDir: o.stateDir, rootDir: o.rootsDir });
  const targets = await buildTargets(pinned, o.selection);
  say(`building ${targets.selected.map((t) => t.name).join(", ")} at ${pinned.source.commit.slice(0, 12)}`);
  const built = await buildHosts(pinned, { selection: o.selection, builders: o.builders, rootDir: o.rootsDir }, targets);
  const failed = built.hosts.filter((h) => !h.toplevel || h.status === "failed" || h.status === "evaluated");
  if (failed.length > 0) throw new OscdError("bundle-build-failed", `not bundling: ${failed.map((h) => `${h.name} (${h.error?.message ?? h.status})`).join("; ")}`, { hint: "fix the failing hosts or leave them out with --on" });
  const hosts = built.hosts.map((h) => ({ name: h.name, toplevel: h.toplevel as string, system: h.system }));
  if (o.dryRun) {
    const body = manifestBody(o, channel, pinned.source, hosts);
    const plan = dryRunPlan("bundle", [`pinned ${pinned.source.commit.slice(0, 12)} and built (GC roots kept, as oscd build)`]);
    const cache = join(dir, BUNDLE_CACHE);
    for (const h of built.hosts) plan.steps.push({ action: "copy", target: `file://${cache}`, host: h.name, detail: `closure of ${h.toplevel as string} (${h.closureSize ?? 0} NAR bytes, uncompressed; shared paths once)` });
    plan.steps.push({ action: "sign", target: `file://${cache}`, detail: `every narinfo of the closures with ${key.public.name}` });
    if (o.trustDir) {
      const docs = await trustDocuments(resolve(o.trustDir));
      plan.steps.push({ action: "copy", target: join(dir, BUNDLE_TRUST), detail: `${docs.join(", ")} from ${resolve(o.trustDir)}` });
    }
    plan.steps.push({ action: "write", target: join(dir, BUNDLE_MANIFEST), detail: `channel ${body.channel}, sequence ${body.sequence}, commit ${body.commit.slice(0, 12)}, expires ${body.expiresAt}, signed by ${key.public.name}; ${hosts.map((h) => h.name).join(", ")}` });
    return { dir, manifest: body, hosts, plan };
  }
  await mkdir(join(dir, BUNDLE_CACHE), { recursive: true });
  const cache = `file://${join(dir, BUNDLE_CACHE)}`;
  say(`copying ${hosts.length} closure(s) to ${cache}`);
  await copyTo(`${cache}?compression=none`, hosts.map((h) => h.toplevel));
  await signPaths(hosts.map((h) => h.toplevel), key.file, { store: cache, recursive: true });
  const body = manifestBody(o, channel, pinned.source, hosts);
  if (o.trustDir) {
    const copied = await copyTrust(resolve(o.trustDir), join(dir, BUNDLE_TRUST));
    say(`carrying ${copied} trust document(s) from ${o.trustDir}`);
  }
  const manifest = signManifest(body, key.secret);
  await writeFileAtomic(join(dir, BUNDLE_MANIFEST), serializeManifest(manifest), 0o644);
  return { dir, manifest: body, hosts };
}

function manifestBody(o: BundleOptions, channel: string, source: { version?: string; commit: string; ref: string }, hosts: readonly { name: string; toplevel: string; system: string }[]): ManifestBody {
  const now = new Date();
  return {
    schema: MANIFEST_SCHEMA,
    channel,
    sequence: o.sequence ?? Math.floor(now.getTime() / 1000),
    version: source.version ?? "",
    commit: source.commit,
    ref: source.ref,
    createdAt: now.toISOString(),
    signedAt: now.toISOString(),
    expiresAt: expiryFrom(now, o.validForMs ?? DEFAULT_BUNDLE_VALIDITY_MS),
    hosts: Object.fromEntries(hosts.map((h) => [h.name, { toplevel: h.toplevel, system: h.system }])),
    caches: [],
  };
}

/** The trust documents of a directory (its root.json required), as copyTrust takes them. */
async function trustDocuments(from: string): Promise<string[]> {
  const names = await readdir(from).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read the trust directory ${from}: ${e.code ?? String(e)}`, "pass a channel's trust/ directory (oscd trust publish writes one)", "bundle-trust");
  });
  const docs = names.filter(isTrustDocumentName);
  if (!docs.includes("root.json")) throw new UsageError(`${from} has no root.json`, "pass a channel's trust/ directory (oscd trust publish writes one)", "bundle-trust");
  return docs;
}

/** Copies the trust documents (and nothing else) of a directory; the machine verifies them all. */
async function copyTrust(from: string, to: string): Promise<number> {
  const docs = await trustDocuments(from);
  await mkdir(to, { recursive: true });
  for (const n of docs) {
    if (!(await lstat(join(from, n))).isFile()) continue;
    await copyFile(join(from, n), join(to, n));
  }
  return docs.length;
}
