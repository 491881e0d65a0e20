import { OscdError } from "../core/errors.js";
import { lastErrorLine, nixRun, NixCommandError, type NixCallOptions } from "./command.js";
import { addRoot } from "./gcroots.js";
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
 */
export async function realise(storePath: string, opts: RealiseOptions): Promise<string> {
  assertStorePath(storePath);
  await addRoot(storePath, opts.rootName, opts.rootDir);
  // require-sigs is set after the caller's settings, so nothing a caller passes can turn it off.
  const { "require-sigs": _never, ...callerSettings } = opts.settings ?? {};
  const settings: Record<string, string> = { "narinfo-cache-negative-ttl": "0", ...callerSettings, "require-sigs": "true" };
  if (opts.substituters && opts.substituters.length > 0) settings.substituters = opts.substituters.join(" ");
  if (opts.trustedPublicKeys && opts.trustedPublicKeys.length > 0) settings["trusted-public-keys"] = opts.trustedPublicKeys.join(" ");
  const r = await nixRun("nix-store", ["--realise", storePath, "--max-jobs", "0"], { ...opts, settings });
  if (r.exitCode === 0) return storePath;
  const err = r.stderr;
  if (/lacks a signature by a trusted key|no signature is trusted|is not signed/i.test(err)) throw new UnsignedPathError(storePath, lastLine(err));
  if (/hash mismatch|NAR hash|size mismatch/i.test(err)) throw new PathCorruptError(storePath, lastErrorLine(err).replace(/^error:\s*/, ""));
  if (/don't know how to build|cannot build|required to build/i.test(err)) throw new PathUnavailableError(storePath, lastLine(err));
  if (/No space left on device/i.test(err)) {
    throw new NixCommandError("disk-full", r, `realising ${storePath}`, "free space in /nix/store (nix-collect-garbage) and try again");
  }
  throw new NixCommandError("nix-realise-failed", r, `realising ${storePath}`);
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n").filter((l) => l.trim());
  return (lines.find((l) => /signature|trusted/i.test(l)) ?? lines[lines.length - 1] ?? "").trim().slice(0, 300);
}

/** True when the path is valid in the local store. */
export async function isValidPath(storePath: string, opts: NixCallOptions = {}): Promise<boolean> {
  assertStorePath(storePath);
  const r = await nixRun("nix-store", ["--check-validity", storePath], { timeoutMs: 60_000, ...opts });
  return r.exitCode === 0;
}
