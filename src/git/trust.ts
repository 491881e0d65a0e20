import { mkdir } from "node:fs/promises";
import { OscdError } from "../core/errors.js";
import { run } from "../core/exec.js";
import type { SignatureTrust } from "./signature.js";

/** Where commit signing keys come from: comin's `gpgPublicKeyPaths`, or an SSH allowed-signers file. */
export interface SigningKeys {
  allowedSignersPath?: string;
  gpgPublicKeyPaths: readonly string[];
}

/**
 * The trust sets for `verifyCommitSignature` from configured keys. GPG keys are imported into a
 * GnuPG home of oscd's own (`gnupgHome`), so the machine's keyring plays no part. A key that
 * cannot be imported is a configuration error (`code`: the caller's configuration, exit 2),
 * never an empty trust set.
 */
export async function signatureTrustOf(keys: SigningKeys, gnupgHome: string, code: string): Promise<SignatureTrust[]> {
  const out: SignatureTrust[] = [];
  if (keys.allowedSignersPath) out.push({ allowedSignersFile: keys.allowedSignersPath });
  if (keys.gpgPublicKeyPaths.length > 0) {
    await mkdir(gnupgHome, { recursive: true, mode: 0o700 });
    for (const file of keys.gpgPublicKeyPaths) {
      const r = await run("gpg", ["--batch", "--homedir", gnupgHome, "--import", file], { timeoutMs: 60_000, missingHint: "install GnuPG, or configure allowedSignersPath (SSH signatures)" });
      if (r.exitCode !== 0) throw new OscdError(code, `cannot import the GPG key ${file}: ${r.stderr.trim().split("\n").pop() ?? ""}`, { exitCode: 2 });
    }
    out.push({ gnupgHome });
  }
  return out;
}
