import { join } from "node:path";
import { signatureTrustOf, type SignatureTrust } from "../git/index.js";
import type { AgentConfig } from "./config.js";

/**
 * The commit signing keys the git source trusts (comin's `gpgPublicKeyPaths`, or an SSH
 * allowed-signers file). Any configured key means every deployed commit must be signed by one;
 * with `requireSignedHistory`, every commit since the last deployed one.
 */
export async function signatureTrust(c: AgentConfig): Promise<SignatureTrust[]> {
  return signatureTrustOf(c, join(c.stateDir, "agent", "gnupg"), "agent-config");
}
