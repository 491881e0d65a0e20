import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { ToolMissingError, UsageError } from "../core/errors.js";
import { stderrTail } from "../core/exec.js";
import { GitBadSignatureError } from "./errors.js";
import { resolveCommit } from "./refs.js";
import { git, gitFailure, isNotARepo, type GitCallOptions, type GitInvocation } from "./run.js";

/** Trust set for SSH signatures: an allowed-signers file (see ssh-keygen(1), ALLOWED SIGNERS). */
export interface SshTrust {
  allowedSignersFile: string;
  /** Optional revoked-keys file (gpg.ssh.revocationFile). */
  revocationFile?: string;
}

/** Trust set for OpenPGP signatures: every key in this GnuPG home is trusted. */
export interface GpgTrust {
  gnupgHome: string;
}

export type SignatureTrust = SshTrust | GpgTrust;

export interface VerifiedSignature {
  commit: string;
  format: "ssh" | "gpg";
  /** SSH: the principal from the allowed-signers file; GPG: the user id (`Name <email>`). */
  signer: string;
  /** SSH: the key fingerprint (`SHA256:...`); GPG: the primary key fingerprint. */
  key: string;
}

/** The meaning of git's %G? letter, for a refusal. */
export function describeSignatureStatus(status: string): string {
  switch (status) {
    case "N":
      return "it is not signed";
    case "B":
      return "its signature does not verify (the commit was changed after signing, or the key is revoked)";
    case "E":
      return "its signature cannot be checked (the signing key is not in the trusted set)";
    case "U":
    case "G":
      return "it is signed by a key that is not trusted";
    case "X":
      return "its signature has expired";
    case "Y":
      return "it is signed by an expired key";
    case "R":
      return "it is signed by a revoked key";
    default:
      return "its signature could not be verified";
  }
}

async function requirePath(path: string, what: string, dir: boolean): Promise<string> {
  const abs = resolve(path);
  const s = await stat(abs).catch(() => undefined);
  if (!s || s.isDirectory() !== dir) {
    throw new UsageError(`${what} ${abs} does not exist`, `configure the trusted ${what} for commit signatures`, "git-trust-missing");
  }
  return abs;
}

async function trustConfig(trust: SignatureTrust): Promise<{ format: "ssh" | "gpg"; args: string[]; env: Record<string, string> }> {
  // Fix the programs so the repository's config cannot substitute a verifier.
  if ("allowedSignersFile" in trust) {
    const args = [
      "-c", "gpg.format=ssh",
      "-c", "gpg.ssh.program=ssh-keygen",
      "-c", `gpg.ssh.allowedSignersFile=${await requirePath(trust.allowedSignersFile, "allowed-signers file", false)}`,
    ];
    if (trust.revocationFile !== undefined) {
      args.push("-c", `gpg.ssh.revocationFile=${await requirePath(trust.revocationFile, "revocation file", false)}`);
    }
    return { format: "ssh", args, env: {} };
  }
  const home = await requirePath(trust.gnupgHome, "GnuPG home", true);
  return {
    format: "gpg",
    args: ["-c", "gpg.format=openpgp", "-c", "gpg.program=gpg", "-c", "gpg.openpgp.program=gpg"],
    env: { GNUPGHOME: home },
  };
}

/**
 * Verifies the signature of a commit against a trust set (SSH allowed signers or a GnuPG home)
 * with `git verify-commit`. Returns the signer; throws GitBadSignatureError (exit 3) for an
 * unsigned commit, an untrusted key or a bad signature.
 */
export async function verifyCommitSignature(
  repoDir: string,
  commit: string,
  trust: SignatureTrust,
  opts: GitCallOptions = {},
): Promise<VerifiedSignature> {
  const id = await resolveCommit(repoDir, commit, opts);
  const t = await trustConfig(trust);
  const inv: GitInvocation = { ...opts, kind: "read", repoDir, env: { ...opts.env, ...t.env } };
  const verify = await git([...t.args, "verify-commit", id], inv);
  if (verify.exitCode !== 0 && isNotARepo(verify.stderr)) throw gitFailure(verify, inv, "git verify-commit");
  const missing = /cannot run (gpg|ssh-keygen)\b/.exec(verify.stderr);
  if (missing?.[1] !== undefined) {
    throw new ToolMissingError(missing[1], missing[1] === "gpg" ? "install GnuPG (Debian: apt-get install gnupg)" : "install OpenSSH (Debian: apt-get install openssh-client)");
  }
  const show = await git([...t.args, "log", "-1", "--no-show-signature", "--format=%G?%x1f%GS%x1f%GF%x1f%GK", id], inv);
  if (show.exitCode !== 0) throw gitFailure(show, inv, "reading the signature");
  const [status = "", signer = "", fingerprint = "", keyId = ""] = show.stdout.trimEnd().split("\x1f");
  if (verify.exitCode !== 0) {
    const reason = describeSignatureStatus(status);
    const detail = verify.stderr.trim() ? `: ${stderrTail(verify.stderr, 3).replace(/\n/g, "; ")}` : "";
    throw new GitBadSignatureError(id, `${reason}${detail}`, verify.command, stderrTail(verify.stderr));
  }
  return { commit: id, format: t.format, signer, key: fingerprint || keyId };
}
