import { basename } from "node:path";
import { nixOk, type NixCallOptions } from "./command.js";
import { assertStorePath } from "./storepath.js";

/**
 * Adds a directory to the store as a read-only, content-addressed path named after the
 * directory (`nix-store --add`). The caller roots it.
 */
export async function addToStore(dir: string, opts: NixCallOptions = {}): Promise<string> {
  const r = await nixOk("nix-store", ["--add", dir], { timeoutMs: 600_000, ...opts }, "nix-add-failed", `adding ${basename(dir)} to the store`);
  return assertStorePath(r.stdout.trim());
}
