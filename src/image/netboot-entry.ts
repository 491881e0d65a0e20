import { readFile } from "node:fs/promises";
import { hashFile, storeFilePath, NETBOOT_PARAMS, netbootParams, resolveInStore, type NetbootEntry, type StoreFile } from "../manifest/index.js";
import { pathExists } from "../core/fs.js";
import { NetbootIncompleteError, NetbootParamsError } from "./errors.js";

/**
 * A host's netboot entry from its built toplevel, as NixOS's boot loaders read it: `kernel`
 * and `initrd` (symlinks into their store paths; `ramdisk` instead of the initrd when given),
 * `kernel-params`, and `init`. The files are
 * hashed here, from the bytes of this build, so whoever serves them can check them.
 */
export async function netbootEntryOf(host: string, toplevel: string, ramdisk?: { path: string; file: string }): Promise<{ entry: NetbootEntry; paths: string[] }> {
  for (const part of ["kernel", "initrd", "init"]) {
    if (!(await pathExists(`${toplevel}/${part}`))) throw new NetbootIncompleteError(host, toplevel, part);
  }
  const kernelParams = (await pathExists(`${toplevel}/kernel-params`)) ? await readFile(`${toplevel}/kernel-params`, "utf8") : "";
  const params = netbootParams(toplevel, kernelParams);
  if (!NETBOOT_PARAMS.test(params)) throw new NetbootParamsError(host);
  const kernel = await storeFileOf(`${toplevel}/kernel`);
  // NixOS's netboot ramdisk (the initrd with the store in it) when the configuration has one.
  const initrd = ramdisk ? await hashed(ramdisk) : await storeFileOf(`${toplevel}/initrd`);
  return { entry: { toplevel, kernel, initrd, params }, paths: [kernel.path, initrd.path] };
}

async function storeFileOf(link: string): Promise<StoreFile> {
  return hashed(await resolveInStore(link));
}

async function hashed(at: { path: string; file: string }): Promise<StoreFile> {
  const { hash, size } = await hashFile(storeFilePath(at));
  return { ...at, hash, size };
}
