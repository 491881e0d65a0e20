import { createHash, type Hash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * The NAR hash of a file tree and the store path `nix-store --add` gives it, computed here
 * instead of asking Nix (`nix path-info` costs a Nix start, ~50-150 ms, on every snapshot the
 * agent makes). The store path is derived from the hash, so comparing it with the path Nix
 * printed proves the hash is the one Nix computed: a caller uses the hash only when they agree.
 */

const NAR_MAGIC = "nix-archive-1";

function str(h: Hash, s: string | Buffer): void {
  const b = typeof s === "string" ? Buffer.from(s, "utf8") : s;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  h.update(len);
  h.update(b);
  const pad = (8 - (b.length % 8)) % 8;
  if (pad) h.update(Buffer.alloc(pad));
}

async function serialise(h: Hash, path: string): Promise<void> {
  const st = await lstat(path);
  str(h, "(");
  if (st.isSymbolicLink()) {
    str(h, "type");
    str(h, "symlink");
    str(h, "target");
    str(h, Buffer.from(await readlink(path, { encoding: "buffer" })));
  } else if (st.isFile()) {
    str(h, "type");
    str(h, "regular");
    if (st.mode & 0o100) {
      str(h, "executable");
      str(h, "");
    }
    str(h, "contents");
    str(h, await readFile(path));
  } else if (st.isDirectory()) {
    str(h, "type");
    str(h, "directory");
    // NAR orders entries by the bytes of their names.
    const names = (await readdir(path, { encoding: "buffer" })).sort(Buffer.compare);
    for (const name of names) {
      str(h, "entry");
      str(h, "(");
      str(h, "name");
      str(h, name);
      str(h, "node");
      await serialise(h, join(path, name.toString("utf8")));
      str(h, ")");
    }
  } else {
    throw new Error(`${path}: not a file, directory or symlink, which a NAR cannot hold`);
  }
  str(h, ")");
}

/** SHA-256 of the NAR serialisation of `path`, as Nix prints it (`sha256-<base64>`). */
export async function narHashOf(path: string): Promise<string> {
  const h = createHash("sha256");
  str(h, NAR_MAGIC);
  await serialise(h, path);
  return `sha256-${h.digest("base64")}`;
}

const BASE32 = "0123456789abcdfghijklmnpqrsvwxyz";

/** Nix's base-32 (its own alphabet, least significant bits first). */
export function nixBase32(bytes: Buffer): string {
  const len = Math.ceil((bytes.length * 8) / 5);
  let out = "";
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5;
    const i = Math.floor(b / 8);
    const j = b % 8;
    const c = ((bytes[i] ?? 0) >> j) | (i >= bytes.length - 1 ? 0 : ((bytes[i + 1] ?? 0) << (8 - j)) & 0xff);
    out += BASE32[c & 0x1f];
  }
  return out;
}

/**
 * The store path of a tree added recursively with SHA-256 and no references, as
 * `nix-store --add DIR` makes it (Nix's makeFixedOutputPath: type "source").
 */
export function addedPathOf(narHash: string, name: string, storeDir = "/nix/store"): string {
  if (!narHash.startsWith("sha256-")) throw new Error(`not a SHA-256 NAR hash: ${narHash}`);
  const hex = Buffer.from(narHash.slice("sha256-".length), "base64").toString("hex");
  const digest = createHash("sha256").update(`source:sha256:${hex}:${storeDir}:${name}`).digest();
  const compressed = Buffer.alloc(20);
  for (let i = 0; i < digest.length; i++) compressed[i % 20] = (compressed[i % 20] as number) ^ (digest[i] as number);
  return `${storeDir}/${nixBase32(compressed)}-${name}`;
}
