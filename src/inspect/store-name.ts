import { basename } from "node:path";

/** `/nix/store/<hash>-name-1.2` → `name-1.2`. */
export function storePathName(path: string): string {
  const base = basename(path);
  const dash = base.indexOf("-");
  return dash === 32 ? base.slice(33) : base;
}
