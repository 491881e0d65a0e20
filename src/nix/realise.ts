import { OscdError } from "../core/errors.js";
import { lastErrorLine, nixRun, NixCommandError, type NixCallOptions } from "./command.js";
import { addRoot } from "./gcroots.js";
import { corruptSubstitute, diskFull, pathUnavailable, untrustedSubstitute } from "./messages.js";
import { substituteTrust, untrustedInClosure } from "./trust-check.js";
import { assertStorePath } from "./storepath.js";

export interface RealiseOptions extends NixCallOptions {
  /** Binary caches to substitute from, in order. Empty means the configured ones. */
  substituters?: readonly string[];
  /** Public keys (`name:base64`) whose signatures are accepted. */
  trustedPublicKeys?: readonly string[];
  /** GC root name under /nix/var/nix/gcroots/oscd; taken before realising starts. */
  rootName: string;
  /** Directory for the root (tests and custom layouts). */
  rootDir?: string;
  /**
   * The caller read the path's own narinfo in `cache` moments ago and verified its signature
   * against exactly `keys` (the disk-space step does: MissingSize.rootSignedIn). When that cache
   * is one of `substituters` and the keys are `trustedPublicKeys`, oscd's pre-check below would
   * only repeat it (two Nix starts): it is skipped. Nix's own check (require-sigs) stays on.
   */
  signatureChecked?: { cache: string; keys: readonly string[] };
}

export class UnsignedPathError extends OscdError {
  constructor(readonly storePath: string, detail: string) {
    super("path-not-trusted", `${storePath} is not signed by a trusted key: ${detail}`, {
      hint: "publish it with the fleet key (oscd publish), or add the signing key to trusted-public-keys",
      exitCode: 3,
    });
  }
}

export class PathUnavailableError extends OscdError {
  constructor(readonly storePath: string, detail: string) {
    super("path-unavailable", `${storePath} is not in this store and no cache offered it: ${detail}`, {
      hint: "check that the caches are reachable and hold the path (oscd publish uploads it)",
    });
  }
}

export class PathCorruptError extends OscdError {
  constructor(readonly storePath: string, detail: string) {
    super("path-corrupt", `${storePath} was refused: what the cache served does not match its signed hash: ${detail}`, {
      hint: "the cache holds damaged or substituted bytes for this path; upload it again (oscd publish) and check who can write to the cache",
      exitCode: 3,
    });
  }
}

/**
 * Makes `storePath` valid in the local store, substituting it from the given caches with
 * signature checks on (`require-sigs` is never turned off). Never builds: `--max-jobs 0`.
 *
 * With caches and trusted keys given, oscd first reads the signatures the caches offer for the
 * path itself: a path offered only unsigned (or signed by an untrusted key) is refused as
 * `path-not-trusted` before Nix downloads anything, whatever Nix's release would have printed.
 * When Nix fails anyway, its words are read for the cause (every release's wording, see
 * messages.ts) and, failing that, the closure's narinfos are read for a dependency that is the
 * untrusted one.
 */
export async function realise(storePath: string, opts: RealiseOptions): Promise<string> {
  assertStorePath(storePath);
  await addRoot(storePath, opts.rootName, opts.rootDir);
  // require-sigs is set after the caller's settings, so nothing a caller passes can turn it off.
  const { "require-sigs": _never, ...callerSettings } = opts.settings ?? {};
  const settings: Record<string, string> = { "narinfo-cache-negative-ttl": "0", ...callerSettings, "require-sigs": "true" };
  const caches = opts.substituters ?? [];
  const keys = opts.trustedPublicKeys ?? [];
  if (caches.length > 0) settings.substituters = caches.join(" ");
  if (keys.length > 0) settings["trusted-public-keys"] = keys.join(" ");
  const checkable = caches.length > 0 && keys.length > 0;
  const query: NixCallOptions = { env: opts.env, cwd: opts.cwd, signal: opts.signal, settings: callerSettings };
  if (checkable && !signatureAlreadyChecked(opts.signatureChecked, caches, keys) && !(await isValidPath(storePath, query))) {
    const pre = await substituteTrust(storePath, caches, keys, query);
    if (pre.verdict === "untrusted") throw new UnsignedPathError(storePath, `${pre.caches.join(", ")} offer${pre.caches.length === 1 ? "s" : ""} it without a signature by a trusted key`);
  }
  const r = await nixRun("nix-store", ["--realise", storePath, "--max-jobs", "0"], { ...opts, settings });
  if (r.exitCode === 0) return storePath;
  const err = r.stderr;
  const unsigned = untrustedSubstitute(err);
  if (unsigned) throw new UnsignedPathError(storePath, unsigned.replace(/^(?:warning|error):\s*/, ""));
  if (corruptSubstitute(err)) throw new PathCorruptError(storePath, lastErrorLine(err).replace(/^error:\s*/, ""));
  if (diskFull(err)) {
    throw new NixCommandError("disk-full", r, `realising ${storePath}`, "free space in /nix/store (nix-collect-garbage) and try again");
  }
  if (checkable) {
    const dep = await untrustedInClosure(storePath, caches, keys, query).catch(() => undefined);
    if (dep) throw new UnsignedPathError(storePath, `${dep.path === storePath ? "it" : `its dependency ${dep.path}`} is offered by ${dep.caches.join(", ")} without a signature by a trusted key`);
  }
  const unavailable = pathUnavailable(err);
  if (unavailable) throw new PathUnavailableError(storePath, lastErrorLine(err).replace(/^error:\s*/, "") || unavailable);
  throw new NixCommandError("nix-realise-failed", r, `realising ${storePath}`);
}

/** The caller's check of the path's signature was made in one of these caches with exactly these keys. */
export function signatureAlreadyChecked(c: RealiseOptions["signatureChecked"], caches: readonly string[], keys: readonly string[]): boolean {
  if (c === undefined || !caches.includes(c.cache)) return false;
  const mine = new Set(keys);
  const theirs = new Set(c.keys);
  return theirs.size === mine.size && [...theirs].every((k) => mine.has(k));
}

/** True when the path is valid in the local store. */
export async function isValidPath(storePath: string, opts: NixCallOptions = {}): Promise<boolean> {
  assertStorePath(storePath);
  const r = await nixRun("nix-store", ["--check-validity", storePath], { timeoutMs: 60_000, ...opts });
  return r.exitCode === 0;
}
