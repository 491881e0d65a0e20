import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { lstat, open, type FileHandle } from "node:fs/promises";
import { nixBase32 } from "../nix/index.js";

/**
 * Reading a bundle's files as root without trusting whoever made the directory (issue 21):
 * every directory and file is opened relative to its pinned parent (`/proc/self/fd/N/name`:
 * Node has no openat) without following a symbolic link, must be a directory or a regular
 * file (a FIFO or a device is refused before anything waits on it), and is read no further
 * than a cap or its signed size. Failures name the file, never what it holds.
 */
export class BundleFileError extends Error {}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
// O_NONBLOCK: were a FIFO swapped in after the look, opening it must not wait for a writer.
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
const CHUNK = 1 << 20;

export class BundleDir {
  private constructor(
    private readonly handle: FileHandle,
    /** How errors name this directory: relative to the bundle (`cache`, `cache/nar`). */
    readonly label: string,
  ) {}

  /** The bundle's own directory: the operator named it, so a link to it is followed. */
  static async openRoot(path: string): Promise<BundleDir> {
    const h = await open(path, constants.O_RDONLY | constants.O_DIRECTORY).catch((e: NodeJS.ErrnoException) => {
      throw new BundleFileError(e.code === "ENOENT" ? "it does not exist" : e.code === "ENOTDIR" ? "it is not a directory" : `it cannot be opened (${e.code ?? "error"})`);
    });
    return new BundleDir(h, "");
  }

  private at(name: string): string {
    return `/proc/self/fd/${this.handle.fd}/${name}`;
  }

  private name(name: string): string {
    return this.label ? `${this.label}/${name}` : name;
  }

  async dir(name: string): Promise<BundleDir> {
    const h = await open(this.at(name), DIR_FLAGS).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") throw new BundleFileError(`it has no ${this.name(name)}`);
      if (e.code === "ELOOP" || e.code === "ENOTDIR") throw new BundleFileError(`${this.name(name)} is not a directory (symbolic links are not followed)`);
      throw new BundleFileError(`${this.name(name)} cannot be opened (${e.code ?? "error"})`);
    });
    return new BundleDir(h, this.name(name));
  }

  /** A regular file of this directory, opened without following links; undefined when missing. */
  async file(name: string): Promise<BundleFile | undefined> {
    const shown = this.name(name);
    const before = await lstat(this.at(name)).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(e)));
    if (before === undefined) return undefined;
    if (!before.isFile()) throw new BundleFileError(`${shown} is not a regular file`);
    const h = await open(this.at(name), FILE_FLAGS).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined;
      throw new BundleFileError(e.code === "ELOOP" ? `${shown} is not a regular file` : `${shown} cannot be opened (${e.code ?? "error"})`);
    });
    if (h === undefined) return undefined;
    const st = await h.stat();
    if (!st.isFile()) {
      await h.close();
      throw new BundleFileError(`${shown} is not a regular file`);
    }
    return new BundleFile(h, shown, st.size);
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

export class BundleFile {
  constructor(
    private readonly handle: FileHandle,
    readonly name: string,
    readonly size: number,
  ) {}

  /** The whole file as text, refused beyond `max` bytes (checked while reading: it may grow). */
  async text(max: number): Promise<string> {
    try {
      if (this.size > max) throw new BundleFileError(`${this.name} is larger than ${max} bytes`);
      const buf = Buffer.alloc(max + 1);
      let got = 0;
      for (;;) {
        const { bytesRead } = await this.handle.read(buf, got, buf.length - got, null);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got > max) throw new BundleFileError(`${this.name} is larger than ${max} bytes`);
      }
      return buf.subarray(0, got).toString("utf8");
    } finally {
      await this.handle.close().catch(() => undefined);
    }
  }

  /**
   * Nix's `sha256:<base32>` of exactly `size` bytes: a file of another size is reported with
   * the size it has (no byte past the signed size is read, whatever the file claims).
   */
  async narHash(size: number): Promise<{ hash: string; size: number }> {
    try {
      if (this.size !== size) return { hash: "", size: this.size };
      const h = createHash("sha256");
      const buf = Buffer.alloc(Math.min(CHUNK, Math.max(size, 1)));
      let left = size;
      while (left > 0) {
        const { bytesRead } = await this.handle.read(buf, 0, Math.min(buf.length, left), null);
        if (bytesRead === 0) return { hash: "", size: size - left };
        h.update(buf.subarray(0, bytesRead));
        left -= bytesRead;
      }
      return { hash: `sha256:${nixBase32(h.digest())}`, size };
    } finally {
      await this.handle.close().catch(() => undefined);
    }
  }
}
