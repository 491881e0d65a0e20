import { UsageError } from "../core/errors.js";
import { parsePublicKey, readPublicKeyFile, readSecretKeyFile, type PublicKey, type SecretKey } from "../nix/index.js";

/** Repeatable options collect into a list. */
export const collect = (v: string, prev: string[] = []) => [...prev, v];

/** A public key given as `name:base64`, or the path of a public key file. */
export async function publicKeyArg(v: string): Promise<PublicKey> {
  if (/^[A-Za-z0-9._+-]+:[A-Za-z0-9+/]+={0,2}$/.test(v)) return parsePublicKey(v);
  return readPublicKeyFile(v);
}

export async function publicKeyArgs(vs: readonly string[] | undefined): Promise<PublicKey[]> {
  return Promise.all((vs ?? []).map(publicKeyArg));
}

/**
 * Secret keys only as files (`--sign-key FILE`): key text in argv would be in the process list.
 * A value that looks like a key itself is refused.
 */
export async function signKeyFiles(vs: readonly string[] | undefined): Promise<SecretKey[]> {
  const out: SecretKey[] = [];
  for (const v of vs ?? []) {
    if (/^[A-Za-z0-9._+-]+:[A-Za-z0-9+/]{40,}={0,2}$/.test(v.trim())) throw new UsageError("--sign-key takes the path of a secret key file, not the key itself", "write the key to a file readable only by you and pass its path", "key-inline");
    out.push(await readSecretKeyFile(v));
  }
  return out;
}
