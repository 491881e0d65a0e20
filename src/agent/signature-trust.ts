import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../core/exec.js";
import { OscdError } from "../core/errors.js";
import type { SignatureTrust } from "../git/index.js";
import type { AgentConfig } from "./config.js";

/**
 * The commit signing keys the git source trusts (comin's `gpgPublicKeyPaths`, or an SSH
 * allowed-signers file). Any configured key means every deployed commit must be signed by one.
 * GPG keys are imported into a GnuPG home of the agent's own, so the machine's keyring plays no part.
 */
export async function signatureTrust(c: AgentConfig): Promise<SignatureTrust[]> {
  const out: SignatureTrust[] = [];
  if (c.allowedSignersPath) out.push({ allowedSignersFile: c.allowedSignersPath });
  if (c.gpgPublicKeyPaths.length > 0) {
    const home = join(c.stateDir, "agent", "gnupg");
    await mkdir(home, { recursive: true, mode: 0o700 });
    for (const file of c.gpgPublicKeyPaths) {
      const r = await run("gpg", ["--batch", "--homedir", home, "--import", file], { timeoutMs: 60_000, missingHint: "install GnuPG, or configure allowedSignersPath (SSH signatures)" });
      if (r.exitCode !== 0) throw new OscdError("agent-config", `cannot import the GPG key ${file}: ${r.stderr.trim().split("\n").pop() ?? ""}`, { exitCode: 2 });
    }
    out.push({ gnupgHome: home });
  }
  return out;
}
