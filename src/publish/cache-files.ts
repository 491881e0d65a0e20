import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { OscdError } from "../core/errors.js";
import { BodyTooLargeError, fetchCapped, type CappedResponse } from "../core/fetch-capped.js";
import { fileStoreDir, redactUrl } from "./store-url.js";

/**
 * Raw file access to a binary cache that oscd can write itself (file:// and http(s)://), for
 * the narinfos it signs and the NARs it re-uploads: `nix copy` skips a path the cache already
 * lists, and `nix store sign --store` signs whatever the cache holds at that moment, so neither
 * can put verified bytes over a narinfo someone else wrote.
 */
export interface CacheFiles {
  /**
   * The file's bytes, or undefined when the cache does not have it. Nothing past `maxBytes` is
   * read: a cache that answers without end is refused before anything is parsed.
   */
  get(name: string, maxBytes: number): Promise<Buffer | undefined>;
  /** Writes the complete file (atomically where the store allows it). */
  put(name: string, data: Buffer): Promise<void>;
}

export class CacheWriteError extends OscdError {
  constructor(url: string, detail: string) {
    super("cache-write-failed", `cannot write to the cache ${redactUrl(url)}: ${detail}`, {
      hint: "check that the cache accepts uploads (write permission, or PUT on an http cache) and publish again",
    });
  }
}

/** The cache's files, or undefined for stores oscd cannot write itself (ssh, ssh-ng, s3). */
export function cacheFiles(url: string): CacheFiles | undefined {
  const dir = fileStoreDir(url);
  if (dir !== undefined) return new DirectoryCache(url, dir);
  if (/^https?:\/\//.test(url)) return new HttpCache(url);
  return undefined;
}

class DirectoryCache implements CacheFiles {
  constructor(
    private readonly url: string,
    private readonly dir: string,
  ) {}

  async get(name: string, maxBytes: number): Promise<Buffer | undefined> {
    let fh: FileHandle | undefined;
    try {
      // Not following a link, and never waiting on a FIFO someone left in a shared cache directory.
      fh = await open(join(this.dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const st = await fh.stat();
      if (!st.isFile()) throw new CacheWriteError(this.url, `reading ${name}: not a regular file`);
      if (st.size > maxBytes) throw new CacheWriteError(this.url, `reading ${name}: larger than ${maxBytes} bytes`);
      const buf = Buffer.alloc(maxBytes + 1);
      const { bytesRead } = await fh.read(buf, 0, maxBytes + 1, 0);
      if (bytesRead > maxBytes) throw new CacheWriteError(this.url, `reading ${name}: larger than ${maxBytes} bytes`);
      return buf.subarray(0, bytesRead);
    } catch (e) {
      if (e instanceof CacheWriteError) throw e;
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new CacheWriteError(this.url, `reading ${name}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    } finally {
      await fh?.close();
    }
  }

  async put(name: string, data: Buffer): Promise<void> {
    const target = join(this.dir, name);
    const tmp = join(dirname(target), `.oscd-${randomBytes(8).toString("hex")}.tmp`);
    try {
      await mkdir(dirname(target), { recursive: true });
      // No fsync, as Nix writes its file caches: a file lost in a crash is written again by the
      // next publish, and rename(2) still shows readers the old file or the new one, never a
      // torn one (and replaces a link someone put there instead of following it).
      const fh = await open(tmp, "wx", 0o644);
      try {
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new CacheWriteError(this.url, `writing ${name}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
}

class HttpCache implements CacheFiles {
  private readonly base: string;
  private readonly headers: Record<string, string> = {};

  constructor(private readonly url: string) {
    const u = new URL(url);
    if (u.username || u.password) {
      // fetch() refuses URLs with credentials; Nix sends them as basic authentication too.
      this.headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`;
      u.username = "";
      u.password = "";
    }
    u.search = "";
    u.hash = "";
    this.base = u.toString().replace(/\/+$/, "");
  }

  private failed(method: string, name: string, e: unknown): CacheWriteError {
    if (e instanceof BodyTooLargeError) return new CacheWriteError(this.url, `${method} ${name}: ${e.message}`);
    const cause = (e as { cause?: { code?: string } }).cause;
    return new CacheWriteError(this.url, `${method} ${name}: ${cause?.code ?? (e instanceof Error ? e.message : String(e))}`);
  }

  async get(name: string, maxBytes: number): Promise<Buffer | undefined> {
    let r: CappedResponse;
    try {
      r = await fetchCapped(`${this.base}/${name}`, { maxBytes, headers: this.headers, signal: AbortSignal.timeout(300_000) });
    } catch (e) {
      throw this.failed("GET", name, e);
    }
    if (r.status === 404 || r.status === 410) return undefined;
    if (r.status !== 200) throw new CacheWriteError(this.url, `GET ${name} answered ${r.status}`);
    return r.bytes;
  }

  async put(name: string, data: Buffer): Promise<void> {
    let r: CappedResponse;
    try {
      // The answer to an upload is not used: a little of it is read, so the connection is reused.
      r = await fetchCapped(`${this.base}/${name}`, { method: "PUT", body: new Uint8Array(data), maxBytes: 64 << 10, headers: this.headers, signal: AbortSignal.timeout(300_000) });
    } catch (e) {
      if (e instanceof BodyTooLargeError) return;
      throw this.failed("PUT", name, e);
    }
    if (r.status < 200 || r.status >= 300) throw new CacheWriteError(this.url, `PUT ${name} answered ${r.status}`);
  }
}
