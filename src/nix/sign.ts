import { nixOk, type NixCallOptions } from "./command.js";
import { assertStorePath } from "./storepath.js";

export interface SignOptions extends NixCallOptions {
  /** Sign paths in this store (e.g. a `file://` cache) instead of the local one. */
  store?: string;
  /** Sign the whole closure. */
  recursive?: boolean;
}

/**
 * Adds narinfo signatures with a Nix secret key file (`nix store sign`). The key is read by
 * Nix from the file: it never appears in a process argument.
 */
export async function signPaths(paths: readonly string[], secretKeyFile: string, opts: SignOptions = {}): Promise<void> {
  if (paths.length === 0) return;
  paths.forEach(assertStorePath);
  const args = ["store", "sign", "--key-file", secretKeyFile];
  if (opts.store) args.push("--store", opts.store);
  if (opts.recursive) args.push("--recursive");
  await nixOk("nix", [...args, ...paths], { timeoutMs: 600_000, ...opts }, "nix-sign-failed", `signing ${paths.length} path(s)`, () => "check that the key file is a Nix secret key (oscd keys generate)");
}
