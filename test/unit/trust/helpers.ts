import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MANIFEST_SCHEMA, serializeManifest, signManifest, type Manifest, type ManifestBody } from "../../../src/manifest/index.js";
import { formatPublicKey, generateSecretKey, publicKeyOf, type PublicKey, type SecretKey } from "../../../src/nix/index.js";
import { initTrust, rotateTrust, serializeTrustRoot, signTrustRoot, type RotateSpec, type TrustRoot } from "../../../src/trust/index.js";

export const TOP = "/nix/store/00000000000000000000000000000001-nixos-system-web1-1.0.0";
export const TOP2 = "/nix/store/00000000000000000000000000000002-nixos-system-web1-1.1.0";
export const T0 = new Date("2026-06-01T00:00:00Z");
export const at = (hours: number) => new Date(T0.getTime() + hours * 3600_000);

export const pub = (k: SecretKey): PublicKey => publicKeyOf(k);
export const pubText = (k: SecretKey): string => formatPublicKey(publicKeyOf(k));

export function keys(prefix: string, n: number): SecretKey[] {
  return Array.from({ length: n }, (_, i) => generateSecretKey(`${prefix}-${i + 1}`));
}

export function manifestBody(seq: number, opts: Partial<ManifestBody> = {}): ManifestBody {
  return {
    schema: MANIFEST_SCHEMA,
    channel: "main",
    sequence: seq,
    version: "1.0.0",
    commit: "a".repeat(40),
    ref: "refs/tags/v1.0.0",
    createdAt: at(1).toISOString(),
    expiresAt: at(24 * 7).toISOString(),
    hosts: { web1: { toplevel: TOP, system: "x86_64-linux" } },
    caches: [],
    ...opts,
  };
}

export function manifest(seq: number, signers: SecretKey[], opts: Partial<ManifestBody> = {}): Manifest {
  return signManifest(manifestBody(seq, opts), signers);
}

export const text = (m: Manifest) => serializeManifest(m);

/** Version 1: root keys `root`, release keys `release` for every channel, signed by `signers`. */
export function firstRoot(root: SecretKey[], release: SecretKey[], signers: SecretKey[], opts: { rootThreshold?: number; releaseThreshold?: number; now?: Date; validForMs?: number } = {}): TrustRoot {
  return signTrustRoot(initTrust({ rootKeys: root.map(pub), rootThreshold: opts.rootThreshold, releaseKeys: release.map(pub), releaseThreshold: opts.releaseThreshold, now: opts.now ?? T0, validForMs: opts.validForMs }), signers);
}

export function nextRoot(prev: TrustRoot, spec: Omit<RotateSpec, "now"> & { now?: Date }, signers: SecretKey[]): TrustRoot {
  return signTrustRoot(rotateTrust(prev, { ...spec, now: spec.now ?? new Date(Date.parse(prev.createdAt) + 3600_000) }), signers);
}

/** Writes versions as a channel's trust/ directory: `<N>.root.json` each, `root.json` the last. */
export async function publishRoots(dir: string, roots: TrustRoot[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const r of roots) await writeFile(join(dir, `${r.version}.root.json`), serializeTrustRoot(r));
  const last = roots.at(-1);
  if (last) await writeFile(join(dir, "root.json"), serializeTrustRoot(last));
}

export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return "accepted";
}

export async function asyncCodeOf(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return "accepted";
}
