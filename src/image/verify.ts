import { join } from "node:path";
import { checkFileAgainst, storeFilePath, type FetchStoreFileOptions, type Manifest, type StoreFile } from "../manifest/index.js";
import { isValidPath, realise } from "../nix/index.js";
import { imageFileName } from "./image.js";

export interface FileCheck {
  host: string;
  /** The image format, or `netboot-kernel` / `netboot-initrd`. */
  what: string;
  path: string;
}

/**
 * Re-hashes every file a verified manifest names by hash (images, netboot kernels and
 * initrds): from this machine's store (substituting a missing path from `substitute`'s
 * caches first, signatures required), or from `imagesDir` (the names `oscd image -o` gives). A file whose bytes are not the signed ones is `image-hash-mismatch`, one that
 * cannot be read `image-file-missing` (exit 3 both): a check that cannot be made is a refusal.
 */
export async function checkManifestFiles(m: Manifest, opts: { imagesDir?: string; substitute?: FetchStoreFileOptions } = {}): Promise<FileCheck[]> {
  const out: FileCheck[] = [];
  const sub = opts.substitute;
  const check = async (host: string, what: string, entry: StoreFile, path: string) => {
    // From a cache: the store path is substituted first (Nix checks the narinfo's signature and NAR hash), then the file is hashed here.
    if (!opts.imagesDir && sub?.substituters && sub.substituters.length > 0 && !(await isValidPath(entry.path))) {
      await realise(entry.path, { substituters: sub.substituters, trustedPublicKeys: sub.trustedPublicKeys, rootName: `verify-${entry.path.slice(11, 43)}`, rootDir: sub.rootDir });
    }
    await checkFileAgainst(entry, path, `${host}'s ${what}`);
    out.push({ host, what, path });
  };
  for (const host of Object.keys(m.hosts).sort()) {
    const e = m.hosts[host];
    if (!e) continue;
    for (const format of Object.keys(e.images ?? {}).sort()) {
      const img = e.images?.[format] as StoreFile;
      await check(host, `${format} image`, img, opts.imagesDir ? join(opts.imagesDir, imageFileName(host, format, img)) : storeFilePath(img));
    }
    if (e.netboot) {
      for (const part of ["kernel", "initrd"] as const) {
        const f = e.netboot[part];
        await check(host, `netboot ${part}`, f, opts.imagesDir ? join(opts.imagesDir, `${host}-netboot-${part}`) : storeFilePath(f));
      }
    }
  }
  return out;
}
