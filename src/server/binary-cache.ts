import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { constants } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { badRequest, HttpError } from "./errors.js";

/**
 * An embedded binary cache: a directory in Nix's binary cache layout (`nix-cache-info`,
 * `<hash>.narinfo`, `nar/…`, `log/…`, `realisations/…`) served over HTTP and filled by PUT,
 * which is how `nix copy --to http://…` uploads. Nothing here is trusted by machines: Nix checks
 * each narinfo's signature against its own trusted keys.
 */
const SEGMENT = /^[A-Za-z0-9_+=-][A-Za-z0-9._+=-]{0,200}$/;
const TOP = new Set(["nar", "log", "realisations", "debuginfo"]);

/** A request path inside the cache, or a 400: plain names only, at most two levels, a known folder. */
export function cacheFile(root: string, path: string): string {
  const parts = path.split("/");
  const ok = parts.length >= 1 && parts.length <= 2 && parts.every((p) => SEGMENT.test(p)) && (parts.length === 1 || TOP.has(parts[0] as string));
  if (!ok) throw badRequest("bad-cache-path", "not a binary cache file name");
  return join(root, ...parts);
}

export async function cacheRead(root: string, path: string): Promise<{ stream: Readable; size: number } | undefined> {
  const file = cacheFile(root, path);
  // O_NOFOLLOW: a symlink planted in the directory is not followed out of it.
  const h = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!h) return undefined;
  const st = await h.stat();
  if (!st.isFile()) {
    await h.close();
    return undefined;
  }
  return { stream: h.createReadStream(), size: st.size };
}

/** Streams a body into the cache: temp file, then rename, so readers never see half a file. */
export async function cacheWrite(root: string, path: string, body: Readable, maxBytes: number): Promise<number> {
  const file = cacheFile(root, path);
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.upload-${randomBytes(8).toString("hex")}`);
  let n = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      n += chunk.length;
      if (n > maxBytes) done(new HttpError(413, "too-large", `a cache upload is at most ${maxBytes} bytes`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(body, limit, createWriteStream(tmp, { flags: "wx", mode: 0o644 }));
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return n;
}

export async function cacheExists(root: string, path: string): Promise<boolean> {
  return (await stat(cacheFile(root, path)).catch(() => undefined))?.isFile() ?? false;
}
