import { OscdError } from "../core/errors.js";

export const STORE_DIR = "/nix/store";

// Nix's base-32 alphabet leaves out e, o, t and u.
const HASH = "[0-9abcdfghijklmnpqrsvwxyz]{32}";
const NAME = "[A-Za-z0-9+_?=-][A-Za-z0-9+._?=-]*";
const STORE_PATH = new RegExp(`^${STORE_DIR}/(${HASH})-(${NAME})$`);

export class InvalidStorePathError extends OscdError {
  constructor(readonly value: string, reason: string) {
    super("invalid-store-path", `${JSON.stringify(value)} is not a Nix store path: ${reason}`, {
      hint: `a store path looks like ${STORE_DIR}/<32 base-32 characters>-<name>`,
      exitCode: 2,
    });
  }
}

export interface StorePath {
  path: string;
  hash: string;
  name: string;
}

export function parseStorePath(value: string): StorePath {
  if (typeof value !== "string" || value.length === 0) throw new InvalidStorePathError(String(value), "it is empty");
  if (!value.startsWith(`${STORE_DIR}/`)) throw new InvalidStorePathError(value, `it is not under ${STORE_DIR}`);
  const m = STORE_PATH.exec(value);
  if (!m) {
    const rest = value.slice(STORE_DIR.length + 1);
    if (rest.includes("/")) throw new InvalidStorePathError(value, "it names a file inside a store path, not the path itself");
    if (rest.length < 34 || rest[32] !== "-") throw new InvalidStorePathError(value, "the hash part is not 32 characters followed by '-'");
    if (!new RegExp(`^${HASH}`).test(rest)) throw new InvalidStorePathError(value, "the hash part has characters outside Nix's base-32 alphabet");
    throw new InvalidStorePathError(value, "the name part has characters Nix does not allow");
  }
  const [, hash, name] = m;
  if (!hash || !name) throw new InvalidStorePathError(value, "it does not match the store path pattern");
  if (name.length > 211) throw new InvalidStorePathError(value, "the name is longer than 211 characters");
  return { path: value, hash, name };
}

export function isStorePath(value: string): boolean {
  try {
    parseStorePath(value);
    return true;
  } catch {
    return false;
  }
}

/** Validates and returns the path, so call sites can write `assertStorePath(x)` inline. */
export function assertStorePath(value: string): string {
  return parseStorePath(value).path;
}
