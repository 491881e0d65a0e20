import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { ImageFileUnknownError } from "./errors.js";

/** Directories deeper than this are not searched for the image file. */
const MAX_DEPTH = 4;

/**
 * The image file inside a built output, as a path relative to it ("" when the output is the
 * file): the derivation's `filePath` when it names one, else the only regular file outside
 * `nix-support/`. A symlink is never followed (it could point anywhere).
 */
export async function locateImageFile(host: string, format: string, out: string, filePath: string | null): Promise<string> {
  if (filePath !== null) {
    const st = await lstat(join(out, filePath)).catch(() => undefined);
    if (!st?.isFile()) throw new ImageFileUnknownError(host, format, out, `its filePath ${JSON.stringify(filePath)} is not a regular file in it`);
    return filePath;
  }
  const top = await lstat(out);
  if (top.isFile()) return "";
  const found: string[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    for (const e of await readdir(join(out, rel), { withFileTypes: true })) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory() && r !== "nix-support" && depth < MAX_DEPTH) await walk(r, depth + 1);
      else if (e.isFile()) found.push(r);
    }
  };
  await walk("", 1);
  if (found.length === 1) return found[0] as string;
  throw new ImageFileUnknownError(host, format, out, found.length === 0 ? "it holds no regular file" : `it holds ${found.length} files (${found.slice(0, 5).join(", ")}${found.length > 5 ? ", …" : ""})`);
}
