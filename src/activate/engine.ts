import { hostname } from "node:os";
import { currentGeneration, assertStorePath } from "../nix/light.js";
import type { Operation } from "../fleet/index.js";
import { recordAppliedSequence } from "./channels.js";
import type { Previous } from "./journal.js";
import { DEFAULT_LAYOUT, files, type HostLayout } from "./layout.js";
import { acquireLock } from "./lock.js";
import { recoverInterrupted, type Recovery } from "./recover.js";
import { rebootNeeded } from "./reboot.js";
import { DEFAULT_SWITCH_TIMEOUT_MS } from "./switch.js";
import { waitForSwitchToEnd } from "./switch-hold.js";
import { pathExists, readLinkOrUndefined } from "../core/fs.js";
import { MachineTrust } from "../trust/light.js";
import type { ActivationRequest, ActivationResult } from "./activation.js";

export { RolledBackError, type ActivationRequest, type ActivationResult } from "./activation.js";

/**
 * Runs `f` holding the host lock, after finishing any deployment a crash interrupted. A switch
 * that deployment started may outlive it (its caller killed): it is waited for first, up to
 * `switchWaitMs`, so recovery never runs a switch beside it (switch-hold.ts).
 */
export async function withHostLock<T>(
  layout: HostLayout,
  command: string,
  f: (recovery: Recovery | undefined) => Promise<T>,
  log?: (line: string) => void,
  opts: { switchWaitMs?: number } = {},
): Promise<T> {
  const lock = await acquireLock(files(layout).lock, command);
  try {
    const interrupted = await pathExists(files(layout).journal);
    await waitForSwitchToEnd(files(layout).switchHold, { timeoutMs: opts.switchWaitMs ?? DEFAULT_SWITCH_TIMEOUT_MS, log, units: interrupted });
    const recovery = await recoverInterrupted(layout, log);
    return await f(recovery);
  } finally {
    await lock.release();
  }
}

/**
 * The activation engine (DESIGN.md): lock → realise → guard → profile → switch → health →
 * commit or roll back → record. Each state is journaled before the next step, so a crash at
 * any point is finished by the next start (`recoverInterrupted`) on a whole generation.
 */
export async function activate(req: ActivationRequest): Promise<ActivationResult> {
  const layout = req.layout ?? DEFAULT_LAYOUT;
  assertStorePath(req.toplevel);
  return withHostLock(layout, `activate ${req.mode}`, (recovery) => activateHoldingLock(req, recovery), (line) => req.onProgress?.("recover", line), { switchWaitMs: req.switchTimeoutMs });
}

/** The engine's steps, for callers that already hold the host lock (upgrade does). */
export async function activateHoldingLock(req: ActivationRequest, recovery?: Recovery): Promise<ActivationResult> {
  const layout = req.layout ?? DEFAULT_LAYOUT;
  const say = (step: string, detail: string) => req.onProgress?.(step, detail);
  const toplevel = assertStorePath(req.toplevel);
  {
    const f = files(layout);
    const gen = await currentGeneration(layout.profile);
    const previous: Previous = { generation: gen?.number, profileToplevel: gen?.storePath, currentSystem: await readLinkOrUndefined(f.currentSystem) };
    const release = req.release ?? {};
    const host = req.host ?? hostname();
    const base = { toplevel, mode: req.mode, previous, release, recovery };
    // Revocations and cache keys come from the trust state the machine persisted (a damaged
    // one is refused, never read as "nothing revoked").
    const trust = await MachineTrust.load({ stateDir: layout.stateDir, trustedPublicKeys: req.trustedPublicKeys ?? [], bootstrap: req.trustRoot });

    if (!req.force && req.generation === undefined && req.mode !== "dry-activate" && isAlreadyThere(req.mode, toplevel, previous)) {
      say("unchanged", `already running ${toplevel}`);
      // A newer manifest that leaves this host as it is still moves the channel on here, so an
      // older one naming another system cannot be replayed afterwards.
      if (release.channel !== undefined && release.sequence !== undefined) await recordAppliedSequence(layout, release.channel, release.sequence, toplevel, release.epoch);
      return { ...base, outcome: "unchanged", generation: gen?.number, reboot: await rebootNeeded(toplevel, f.bootedSystem) };
    }

    // What a deployment does from here (realise, guard, profile, switch, health, commit) is loaded
    // only when there is one: an activation with nothing to do starts without it.
    const { deploy } = await import("./deployment.js");
    return deploy(req, { layout, toplevel, host, release, previous, gen: gen?.number, base, trust });
  }
}

function isAlreadyThere(mode: Operation, toplevel: string, p: Previous): boolean {
  if (mode === "switch") return p.currentSystem === toplevel && p.profileToplevel === toplevel;
  if (mode === "boot") return p.profileToplevel === toplevel;
  if (mode === "test") return p.currentSystem === toplevel;
  return false;
}
