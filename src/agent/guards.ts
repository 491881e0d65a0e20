import { GuardError } from "../core/errors.js";
import { checkFreshness, parseManifest, type Manifest } from "../manifest/index.js";
import type { MachineTrust } from "../trust/index.js";
import type { Operation } from "../fleet/index.js";

/** Release facts the agent hands the engine; `channel`/`sequence` persist in its journals. */
export interface AgentRelease {
  version?: string;
  commit?: string;
  ref?: string;
  channel?: string;
  sequence?: number;
  /** The channel's sequence epoch in the trust root the manifest was checked with. */
  epoch?: string;
}

/** A system the agent wants to run, from one source, after its guards passed. */
export interface Candidate {
  /** `manifest:<channel>` or `git:<remote>/<branch>`. */
  source: string;
  toplevel: string;
  mode: Exclude<Operation, "dry-activate">;
  release: AgentRelease;
  /** Caches to realise from (the manifest's, then the configured ones). */
  caches: string[];
  /** Set for git candidates: which branch role it came from. */
  git?: { remote: string; branch: string; role: "main" | "testing" };
  /** Built (or found valid) by this agent and rooted: the engine need not realise it again. */
  builtHere?: boolean;
  /** Go back to this existing generation instead (the running release was revoked, `onRevoked = "rollback"`). */
  generation?: number;
}

export interface ManifestGuardContext {
  /** The machine's trust root and revocation lists (src/trust). */
  trust: MachineTrust;
  channel: string;
  host: string;
  /** Highest sequence accepted on this machine for the channel (agent state or engine history). */
  floor: number;
  /** What was accepted at `floor`, to tell a re-read from a fork. */
  accepted?: { commit?: string; toplevel?: string };
  now: Date;
  skewMs: number;
  /** Accept a manifest without `expiresAt` (the configuration's explicit opt-out). */
  allowNoExpiry?: boolean;
}

export type ManifestVerdict = { kind: "newer"; manifest: Manifest; toplevel: string; signer: string; epoch?: string } | { kind: "same"; manifest: Manifest; epoch?: string };

/**
 * Every check a manifest passes before anything on the machine changes: strict format, the
 * channel's release threshold in the trust root (which must be fresh), the configured channel,
 * not expired, a sequence above the last one accepted here in the channel's sequence epoch (or
 * the very same manifest again), an entry for this host that no revocation list names. One
 * time (`ctx.now`) for every expiry. Each refusal is a GuardError with its own code.
 */
export function checkManifest(text: string, where: string, ctx: ManifestGuardContext): ManifestVerdict {
  const manifest = parseManifest(text, where);
  const verified = ctx.trust.verifyManifest(manifest, where, ctx.now);
  const signer = verified.signers.map((k) => k.name).join(", ");
  const epoch = verified.epoch;
  if (manifest.channel !== ctx.channel) {
    throw new GuardError("manifest-channel", `${where} is for channel ${manifest.channel}, this machine follows ${ctx.channel}`, "point the agent at the channel's own manifest URL");
  }
  checkExpiry(manifest, where, ctx.now, ctx.skewMs, ctx.allowNoExpiry);
  if (manifest.sequence < ctx.floor) {
    throw new GuardError(
      "manifest-sequence",
      `${where}: channel ${manifest.channel} sequence ${manifest.sequence} is older than ${ctx.floor}, the last one applied here`,
      "an older manifest is a replay or a rollback of the channel and is refused; roll back by publishing a newer manifest",
    );
  }
  const entry = Object.hasOwn(manifest.hosts, ctx.host) ? manifest.hosts[ctx.host] : undefined;
  if (manifest.sequence === ctx.floor) {
    const sameRelease = (!ctx.accepted?.commit || ctx.accepted.commit === manifest.commit) && (!ctx.accepted?.toplevel || ctx.accepted.toplevel === entry?.toplevel);
    if (!sameRelease) throw new GuardError("manifest-sequence", `${where}: channel ${manifest.channel} sequence ${manifest.sequence} was applied here with other content (a forked channel)`, "a sequence is used once; publish a newer manifest");
    return { kind: "same", manifest, epoch };
  }
  if (!entry) {
    throw new GuardError("manifest-no-host", `${where} (channel ${manifest.channel}, sequence ${manifest.sequence}) has no entry for host ${ctx.host}`, "build and publish this host, or set the agent's hostname to its name in the fleet");
  }
  ctx.trust.assertNotRevoked({ channel: manifest.channel, sequence: manifest.sequence, commit: manifest.commit, toplevel: entry.toplevel }, `${where} (channel ${manifest.channel}, sequence ${manifest.sequence}) for ${ctx.host}`);
  return { kind: "newer", manifest, toplevel: entry.toplevel, signer, epoch };
}

/**
 * Freshness (src/manifest's checkFreshness): past `expiresAt` (beyond the allowed clock skew)
 * a manifest is refused, so a frozen mirror or a stopped CI shows up as "held back" instead of
 * being obeyed forever. A manifest without expiry is refused unless the configuration opts out.
 */
export function checkExpiry(m: Manifest, where: string, now: Date, skewMs: number, allowNoExpiry = false): void {
  try {
    checkFreshness(m, { now, skewMs, allowNoExpiry });
  } catch (e) {
    if (e instanceof GuardError) throw new GuardError(e.code, `${where}: ${e.message}`, e.hint);
    throw e;
  }
}
