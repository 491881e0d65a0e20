import { join } from "node:path";
import { checkFileAgainst, storeFilePath, type Manifest, type StoreFile } from "../manifest/index.js";
import { imageFileName } from "./image.js";

export interface FileCheck {
  host: string;
  /** The image format, or `netboot-kernel` / `netboot-initrd`. */
  what: string;
  path: string;
}

/**
 * Re-hashes every file a verified manifest names by hash (images, netboot kernels and
 * initrds): from this machine's store, or for images from `imagesDir` (the names `oscd image
 * -o` gives). A file whose bytes are not the signed ones is `image-hash-mismatch`, one that
 * cannot be read `image-file-missing` (exit 3 both): a check that cannot be made is a refusal.
 */
export async function checkManifestFiles(m: Manifest, opts: { imagesDir?: string } = {}): Promise<FileCheck[]> {
  const out: FileCheck[] = [];
  const check = async (host: string, what: string, entry: StoreFile, path: string) => {
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
