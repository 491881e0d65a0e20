import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { resolve } from "node:path";
import { OscdError, UsageError } from "../core/errors.js";
import { formatPublicKey, parsePublicKey, publicKeyOf, readSecretKeyFile, type PublicKey, type SecretKey } from "../nix/index.js";

export const SIGNING_KEY_ENV = "OSCD_SIGNING_KEY_FILE";

/** The fleet signing key: where its file is (Nix reads it from there) and the key itself. */
export interface SigningKey {
  file: string;
  secret: SecretKey;
  public: PublicKey;
}

/**
 * The signing key from `--sign-key FILE` or `$OSCD_SIGNING_KEY_FILE` (a path: the key text itself
 * never goes through argv, the environment or logs). A missing, unreadable or malformed key
 * is a configuration error (exit 2).
 */
export async function loadSigningKey(keyFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<SigningKey> {
  const given = keyFile ?? env[SIGNING_KEY_ENV];
  if (!given) {
    throw new UsageError(
      "no signing key: pass --sign-key FILE or set OSCD_SIGNING_KEY_FILE to the path of the fleet's secret key",
      "make one with `oscd keys generate NAME` and keep the secret file on the build machine only",
      "key-missing",
    );
  }
  if (/^[A-Za-z0-9._+-]+:[A-Za-z0-9+/]{40,}={0,2}$/.test(given.trim())) {
    throw new UsageError("the signing key must be given as a file path, not as the key itself", `write the key to a file readable only by you and pass its path (--sign-key FILE or ${SIGNING_KEY_ENV})`, "key-inline");
  }
  const file = resolve(given);
  try {
    await access(file, constants.R_OK);
  } catch (e) {
    throw new OscdError("key-missing", `cannot read the signing key file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      hint: "check the path and its permissions; make a key with `oscd keys generate NAME`",
      exitCode: 2,
    });
  }
  const secret = await readSecretKeyFile(file);
  return { file, secret, public: publicKeyOf(secret) };
}

/**
 * The keys a published manifest must verify with: the fleet's `keys.trusted`. When the fleet
 * lists trusted keys and the signing key is not among them, machines would refuse everything
 * published, so that is refused here (exit 2). Returns the keys to check old manifests with.
 */
export function trustedKeysFor(signing: SigningKey, fleetTrusted: readonly string[]): PublicKey[] {
  const trusted = fleetTrusted.map((k) => parsePublicKey(k));
  if (trusted.length > 0 && !trusted.some((k) => k.name === signing.public.name && k.key.equals(signing.public.key))) {
    throw new UsageError(
      `the signing key ${signing.public.name} is not one of the fleet's trusted keys (${trusted.map((k) => k.name).join(", ")})`,
      `add ${formatPublicKey(signing.public)} to keys.trusted in oscd.toml (and to the machines' trusted-public-keys), or sign with a trusted key`,
      "key-not-trusted",
    );
  }
  return trusted.some((k) => k.key.equals(signing.public.key)) ? trusted : [...trusted, signing.public];
}
