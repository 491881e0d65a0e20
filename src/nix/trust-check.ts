import { nixRun, type NixCallOptions } from "./command.js";
import { parsePublicKey, type PublicKey } from "./keys.js";
import { pathInfo } from "./pathinfo.js";
import type { PathInfo } from "./pathinfo-json.js";
import { trustedSigner } from "./signatures.js";

/**
 * oscd's own reading of the signatures a cache offers for a path, made before Nix is asked to
 * substitute it: Nix's words for a refused substitute changed between releases (and Nix
 * 2.18 on ends with only "build of … failed"), while the narinfo's signature either verifies
 * against the trusted keys or does not, on every release. Nix's own check stays on
 * (require-sigs); this one only lets oscd say *why* with certainty.
 *
 * The narinfos are read through Nix (`nix path-info --store CACHE`), so every store type and
 * credential (netrc, S3) Nix is configured with works here too.
 */
export type SubstituteTrust =
  | { verdict: "trusted"; cache: string; key: string }
  /** Offered by these caches, by none with a valid signature of a trusted key, and every cache answered. */
  | { verdict: "untrusted"; caches: string[] }
  | { verdict: "absent" }
  /** A cache did not answer, is trusted without signatures (`?trusted=1`), or the path is content-addressed. */
  | { verdict: "unknown"; reason: string };

/** Nix 2.8 remembers narinfos it looked up for an hour unless told otherwise. */
const FRESH: Record<string, string> = { "narinfo-cache-negative-ttl": "0", "narinfo-cache-positive-ttl": "0" };

function trustedWithoutSignatures(url: string): boolean {
  const q = url.indexOf("?");
  return q >= 0 && new URLSearchParams(url.slice(q + 1)).get("trusted") === "1";
}

function keysOf(trusted: readonly string[]): PublicKey[] | undefined {
  try {
    return trusted.map((k) => parsePublicKey(k));
  } catch {
    return undefined;
  }
}

type Offer = { cache: string; info: PathInfo | undefined; error?: string };

function verdictOf(offers: readonly Offer[], keys: readonly PublicKey[]): SubstituteTrust {
  for (const o of offers) {
    if (!o.info?.valid) continue;
    const k = trustedSigner(o.info, keys);
    if (k) return { verdict: "trusted", cache: o.cache, key: k.name };
  }
  const silent = offers.find((o) => o.error !== undefined);
  if (silent) return { verdict: "unknown", reason: `${silent.cache} did not answer: ${silent.error}` };
  const offered = offers.filter((o) => o.info?.valid);
  if (offered.length === 0) return { verdict: "absent" };
  if (offered.some((o) => o.info?.contentAddressed)) return { verdict: "unknown", reason: "the path is content-addressed" };
  return { verdict: "untrusted", caches: offered.map((o) => o.cache) };
}

async function ask(cache: string, paths: readonly string[], recursive: boolean, opts: NixCallOptions): Promise<{ infos: PathInfo[] } | { error: string }> {
  try {
    return { infos: await pathInfo(paths, { ...opts, onLog: undefined, store: cache, recursive, settings: { ...opts.settings, ...FRESH } }) };
  } catch (e) {
    return { error: (e instanceof Error ? e.message : String(e)).slice(0, 300) };
  }
}

/** Whether the caches offer `storePath` signed by one of `trusted` (`name:base64` keys). */
export async function substituteTrust(storePath: string, caches: readonly string[], trusted: readonly string[], opts: NixCallOptions = {}): Promise<SubstituteTrust> {
  const keys = keysOf(trusted);
  if (!keys || keys.length === 0) return { verdict: "unknown", reason: "no trusted key oscd can read" };
  const open = caches.find(trustedWithoutSignatures);
  if (open) return { verdict: "unknown", reason: `${open} is trusted without signatures` };
  const offers: Offer[] = [];
  for (const cache of caches) {
    const r = await ask(cache, [storePath], false, opts);
    if ("error" in r) offers.push({ cache, info: undefined, error: r.error });
    else offers.push({ cache, info: r.infos.find((i) => i.path === storePath) });
    // The first cache with a trusted signature settles it, as it does for Nix.
    const v = verdictOf(offers, keys);
    if (v.verdict === "trusted") return v;
  }
  return verdictOf(offers, keys);
}

export interface UntrustedDependency {
  path: string;
  caches: string[];
}

/**
 * After Nix refused to realise `storePath`: the first path of its closure that this store
 * lacks and that the caches offer only without a trusted signature, if that is what happened.
 * Undefined when it cannot be told (a cache did not answer) or it is not the cause.
 */
export async function untrustedInClosure(storePath: string, caches: readonly string[], trusted: readonly string[], opts: NixCallOptions = {}): Promise<UntrustedDependency | undefined> {
  const keys = keysOf(trusted);
  if (!keys || keys.length === 0 || caches.some(trustedWithoutSignatures)) return undefined;
  const byCache = new Map<string, Map<string, PathInfo>>();
  for (const cache of caches) {
    const r = await ask(cache, [storePath], true, opts);
    if ("error" in r) return undefined;
    byCache.set(cache, new Map(r.infos.filter((i) => i.valid).map((i) => [i.path, i])));
  }
  const all = [...new Set([...byCache.values()].flatMap((m) => [...m.keys()]))];
  if (all.length === 0) return undefined;
  const missing = await locallyInvalid(all, opts);
  if (missing === undefined) return undefined;
  // The toplevel first, then its dependencies in a stable order.
  const order = [storePath, ...all.filter((p) => p !== storePath).sort()].filter((p) => missing.has(p));
  for (const p of order) {
    const offers: Offer[] = caches.map((cache) => ({ cache, info: byCache.get(cache)?.get(p) }));
    const v = verdictOf(offers, keys);
    if (v.verdict === "untrusted") return { path: p, caches: v.caches };
  }
  return undefined;
}

async function locallyInvalid(paths: readonly string[], opts: NixCallOptions): Promise<Set<string> | undefined> {
  const r = await nixRun("nix-store", ["--check-validity", "--print-invalid", ...paths], { ...opts, onLog: undefined, timeoutMs: 120_000 });
  if (r.exitCode !== 0) return undefined;
  return new Set(r.stdout.split("\n").map((l) => l.trim()).filter(Boolean));
}
