import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, open, realpath } from "node:fs/promises";
import { GuardError, OscdError } from "../core/errors.js";
import { STORE_DIR, isValidPath, parseStorePath, realise } from "../nix/index.js";
import type { StoreFile } from "./manifest.js";
import { quoteForMessage } from "./strict-json.js";

/**
 * Files a manifest entry names by hash (images, netboot kernels and initrds): hashing them,
 * finding them in a store path, and refusing one whose bytes are not the signed ones.
 */

/** The full path of a StoreFile: its store path, or a file inside it. */
export function storeFilePath(f: Pick<StoreFile, "path" | "file">): string {
  return f.file === "" ? f.path : `${f.path}/${f.file}`;
}

export function sriSha256(digest: Buffer): string {
  return `sha256-${digest.toString("base64")}`;
}

/** SHA-256 (SRI) and size of a regular file's bytes, read once. A symlink or anything but a regular file is refused. */
export async function hashFile(path: string): Promise<{ hash: string; size: number }> {
  const st = await lstat(path);
  if (!st.isFile()) throw new OscdError("image-not-a-file", `${quoteForMessage(path, 200)} is not a regular file`, { hint: "an image or netboot entry names one regular file" });
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    h.update(chunk);
    size += chunk.length;
  }
  return { hash: sriSha256(h.digest()), size };
}

/** A file's bytes are not the ones the manifest signed. */
export class ImageHashMismatchError extends GuardError {
  constructor(what: string, path: string, detail: string) {
    super(
      "image-hash-mismatch",
      `${what} ${quoteForMessage(path, 200)} does not match the signed manifest: ${detail}`,
      "the file was changed after it was published (or is another build's); build and publish it again with oscd image, or fetch it again",
    );
  }
}

/** The file a manifest entry names cannot be read here, so it cannot be checked. */
export class ImageFileMissingError extends OscdError {
  constructor(what: string, path: string, cause: string) {
    super("image-file-missing", `${what} ${quoteForMessage(path, 200)} cannot be read to check it: ${cause}`, {
      exitCode: 3,
      hint: "realise the store path on this machine (nix-store --realise PATH with the fleet's cache as substituter), or pass --images DIR with the files oscd image -o wrote",
    });
  }
}

/**
 * Hashes `path` and compares it with the signed entry (size, then SHA-256); throws
 * ImageHashMismatchError or ImageFileMissingError. `what` names the file in messages.
 */
export async function checkFileAgainst(entry: Pick<StoreFile, "hash" | "size">, path: string, what: string): Promise<void> {
  let got: { hash: string; size: number };
  try {
    got = await hashFile(path);
  } catch (e) {
    if (e instanceof OscdError) throw new ImageHashMismatchError(what, path, e.message);
    throw new ImageFileMissingError(what, path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  if (got.size !== entry.size) throw new ImageHashMismatchError(what, path, `${got.size} bytes, signed ${entry.size}`);
  if (got.hash !== entry.hash) throw new ImageHashMismatchError(what, path, `sha256 ${got.hash}, signed ${entry.hash}`);
}

/**
 * Reads a whole file and returns its bytes only when they are the signed ones: what is served
 * is exactly what was hashed (no window in which the file could change between check and send).
 */
export async function readVerifiedFile(entry: Pick<StoreFile, "hash" | "size">, path: string, what: string, maxBytes = 2 * 1024 * 1024 * 1024): Promise<Buffer> {
  if (entry.size > maxBytes) throw new OscdError("netboot-file-too-large", `${what} is ${entry.size} bytes, more than the ${maxBytes} served`, { hint: "netboot kernels and initrds are served from memory after verification" });
  let data: Buffer;
  try {
    const st = await lstat(path);
    if (!st.isFile()) throw new ImageHashMismatchError(what, path, "not a regular file");
    const fh = await open(path, "r");
    try {
      // One byte more than signed is read, so a longer file is seen as longer.
      data = Buffer.alloc(entry.size + 1);
      let n = 0;
      for (;;) {
        const r = await fh.read(data, n, data.length - n, n);
        if (r.bytesRead === 0) break;
        n += r.bytesRead;
        if (n === data.length) break;
      }
      data = data.subarray(0, n);
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof OscdError) throw e;
    throw new ImageFileMissingError(what, path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  if (data.length !== entry.size) throw new ImageHashMismatchError(what, path, `${data.length > entry.size ? "more than" : data.length} bytes, signed ${entry.size}`);
  const hash = sriSha256(createHash("sha256").update(data).digest());
  if (hash !== entry.hash) throw new ImageHashMismatchError(what, path, `sha256 ${hash}, signed ${entry.hash}`);
  return data;
}

/**
 * Where a symlink inside a store path (a toplevel's `kernel`, `initrd`) really points, as a
 * store path and a file inside it; anything outside the store is refused.
 */
export async function resolveInStore(link: string): Promise<{ path: string; file: string }> {
  const real = await realpath(link);
  if (!real.startsWith(`${STORE_DIR}/`)) throw new OscdError("netboot-outside-store", `${quoteForMessage(link, 200)} points outside ${STORE_DIR} (${quoteForMessage(real, 200)})`, { hint: "a netboot kernel and initrd must be store paths" });
  const rest = real.slice(STORE_DIR.length + 1);
  const slash = rest.indexOf("/");
  const path = slash < 0 ? real : `${STORE_DIR}/${rest.slice(0, slash)}`;
  parseStorePath(path);
  return { path, file: slash < 0 ? "" : rest.slice(slash + 1) };
}

export interface FetchStoreFileOptions {
  /** Caches to substitute a missing store path from (signatures required, by `trustedPublicKeys`). */
  substituters?: readonly string[];
  trustedPublicKeys?: readonly string[];
  /** GC root for a substituted path (name, directory). */
  rootName?: string;
  rootDir?: string;
}

/**
 * The bytes of a signed StoreFile, from this machine's store: a path that is missing is first
 * substituted (signatures checked by Nix) when caches are given; then the file is read and
 * checked against the signed size and hash. Nothing is returned that was not checked.
 */
export async function fetchStoreFile(entry: StoreFile, what: string, opts: FetchStoreFileOptions = {}): Promise<Buffer> {
  if (opts.substituters && opts.substituters.length > 0 && !(await isValidPath(entry.path))) {
    await realise(entry.path, {
      substituters: opts.substituters,
      trustedPublicKeys: opts.trustedPublicKeys,
      rootName: opts.rootName ?? `netboot-${entry.path.slice(STORE_DIR.length + 1, STORE_DIR.length + 33)}`,
      rootDir: opts.rootDir,
    });
  }
  return readVerifiedFile(entry, storeFilePath(entry), what);
}
