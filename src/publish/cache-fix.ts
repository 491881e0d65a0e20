import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuardError, OscdError } from "../core/errors.js";
import { MAX_NARINFO_BYTES, formatNarInfo, nixOk, parseNarInfo, signNarInfo, signPaths, verifyNarInfo, type NixCallOptions, type PathInfo } from "../nix/index.js";
import type { CacheFiles } from "./cache-files.js";
import type { SigningKey } from "./key.js";
import { narInfoName, narInfoPrint, pathFingerprint } from "./path-check.js";
import { redactUrl } from "./store-url.js";

const CONCURRENCY = 16;

/** A cache holds other bytes under a fleet path's name, and oscd cannot replace them there. */
export class CachePathMismatchError extends GuardError {
  constructor(url: string, paths: readonly string[]) {
    super(
      "cache-path-mismatch",
      `${redactUrl(url)} holds other contents than this build under ${paths.length} fleet path(s) (${paths.slice(0, 3).join(", ")}${paths.length > 3 ? ", …" : ""}); they were not signed`,
      "someone uploaded these paths without the fleet key, or the build is not reproducible; delete them from the cache (their .narinfo files) and publish again",
    );
  }
}

/**
 * Signs in the cache the paths it holds unsigned, but only over the narinfo read here and
 * found to describe the local bytes: the narinfo written back carries exactly the fields that
 * were compared, so a file swapped in the meantime never gets the fleet's signature. Returns
 * the paths whose narinfo turned out to differ after all (to be re-uploaded).
 */
export async function signVerifiedInCache(files: CacheFiles, paths: readonly string[], local: ReadonlyMap<string, PathInfo>, key: SigningKey): Promise<string[]> {
  const different = new Set<string>();
  const one = async (p: string): Promise<void> => {
    const info = local.get(p);
    const raw = await files.get(narInfoName(p), MAX_NARINFO_BYTES);
    let n;
    try {
      n = raw === undefined ? undefined : parseNarInfo(raw.toString("utf8"));
    } catch {
      n = undefined; // a damaged narinfo is replaced like a foreign one
    }
    if (!info || !n || n.storePath !== p || narInfoPrint(n) === undefined || narInfoPrint(n) !== pathFingerprint(info)) {
      different.add(p);
      return;
    }
    await files.put(narInfoName(p), Buffer.from(formatNarInfo(signNarInfo(n, key.secret))));
  };
  // A few at a time: each is a small read and an fsynced write (or an http round trip).
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, paths.length) }, async () => {
      while (next < paths.length) await one(paths[next++] as string);
    }),
  );
  return paths.filter((p) => different.has(p));
}

/**
 * Replaces what the cache holds under these paths with the local bytes, signed: the paths are
 * signed locally, copied into a private file cache by Nix (with their closures: Nix wants a
 * path's references in the same cache, but only these paths' files are taken from it), each
 * narinfo checked against the local path and the key, and its NAR then its narinfo written
 * over the cache's. `nix copy` to the cache itself would skip a path it already lists.
 */
export async function reuploadToCache(url: string, files: CacheFiles, paths: readonly string[], local: ReadonlyMap<string, PathInfo>, key: SigningKey, nix: NixCallOptions): Promise<void> {
  if (paths.length === 0) return;
  await signPaths(paths, key.file, nix);
  const tmp = await mkdtemp(join(tmpdir(), "oscd-reupload-"));
  try {
    await nixOk("nix", ["copy", "--to", `file://${tmp}?compression=xz`, ...paths], { timeoutMs: 3_600_000, ...nix }, "nix-copy-failed", `staging ${paths.length} path(s) for ${redactUrl(url)}`);
    for (const p of paths) {
      const text = await readFile(join(tmp, narInfoName(p)), "utf8");
      const n = parseNarInfo(text);
      const info = local.get(p);
      if (!info || narInfoPrint(n) !== pathFingerprint(info) || !verifyNarInfo(n, [key.public])) {
        throw new OscdError("cache-reupload-failed", `the staged copy of ${p} does not match the local path or lacks the fleet signature`, { hint: "check the local store (nix-store --verify --check-contents) and publish again" });
      }
      // The NAR first: a reader never sees the new narinfo before its NAR is there.
      await files.put(n.url, await readFile(join(tmp, n.url)));
      await files.put(narInfoName(p), Buffer.from(text));
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
