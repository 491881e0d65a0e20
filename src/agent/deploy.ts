import { access } from "node:fs/promises";
import { join } from "node:path";
import { activate, BusyError, RolledBackError, type ActivationResult } from "../activate/index.js";
import { isOscdError } from "../core/errors.js";
import { healthSchema } from "../fleet/index.js";
import type { AgentContext } from "./context.js";
import type { Candidate } from "./guards.js";
import { runPostDeploy, type PostDeployFacts } from "./post-deploy.js";
import { rebootNow, switchInhibited } from "./reboot.js";
import { planReboot } from "./schedule.js";
import { MAX_INTERRUPTED_ATTEMPTS, writeAgentState } from "./state.js";
import { checkSwitchLock } from "./switch-lock.js";

/**
 * One deployment: the activation engine in-process (realise from the candidate's caches with the
 * trusted keys, guard, profile, switch, health, commit or roll back), then the agent's
 * bookkeeping, the post-deployment command and the reboot plan. Returns true when it should be
 * retried later (the host lock or switch-to-configuration's lock is held by someone else), or
 * when (`disk-low`: someone may free space meanwhile).
 */
export async function deployCandidate(agent: AgentContext, c: Candidate, planned: Candidate["mode"]): Promise<boolean | { retryInMs: number }> {
  const cfg = agent.config;
  let mode = planned;
  let inhibited: string | undefined;
  const base = () => ({ source: c.source, toplevel: c.toplevel, mode });
  agent.emit({ type: "deploying", at: agent.now(), ...base(), step: "start" });
  const prior = agent.state.inFlight?.toplevel === c.toplevel ? agent.state.inFlight.attempts : 0;
  if (prior >= MAX_INTERRUPTED_ATTEMPTS) {
    agent.emit({ type: "refused", at: agent.now(), source: c.source, code: "agent-crash-loop", message: `the deployment of ${c.toplevel} was interrupted ${prior} times (the agent died during it); it is not tried again` });
    return false;
  }
  let result: ActivationResult;
  try {
    await checkSwitchLock(agent.layout.runDir);
    if (mode === "switch" && (await runningHasInhibitors(agent))) {
      // Realised first: the check runs the new system's own switch-to-configuration.
      inhibited = await switchInhibitedAfterRealise(agent, c);
      if (inhibited) mode = "boot";
    }
    if (cfg.diff) await emitDiff(agent, c);
    agent.state.inFlight = { toplevel: c.toplevel, attempts: prior + 1, at: agent.now() };
    await writeAgentState(cfg.stateDir, agent.state, { durable: false });
    result = await activate({
      toplevel: c.toplevel,
      mode,
      host: agent.host,
      release: c.release,
      substituters: c.caches,
      builtHere: c.builtHere,
      generation: c.generation,
      trustedPublicKeys: cfg.trustedPublicKeys,
      health: healthSchema.parse(cfg.health ?? {}),
      switchTimeoutMs: cfg.switchTimeout * 1000,
      retention: cfg.retention,
      layout: agent.layout,
      onProgress: (step, detail) => agent.emit({ type: "deploying", at: agent.now(), ...base(), step, detail: detail.slice(0, 300) }),
    });
  } catch (e) {
    await clearInFlight(agent);
    const code = isOscdError(e) ? e.code : "internal";
    const message = (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
    if (e instanceof BusyError || code === "switch-locked" || code === "switch-running") {
      agent.emit({ type: "waiting", at: agent.now(), source: c.source, reason: `${code}: ${message}` });
      return true;
    }
    const cause = e instanceof RolledBackError ? e.causeCode : undefined;
    agent.emit({ type: "deploy-failed", at: agent.now(), ...base(), code, cause, message, phase: code === "path-unavailable" || code === "path-not-trusted" ? "build" : "deploy" });
    await postDeploy(agent, { ...facts(agent, c), status: "failed", error: message });
    // Nothing was changed; once space is freed (oscd gc) the same system fits.
    if (code === "disk-low") return { retryInMs: DISK_LOW_RETRY_MS };
    return false;
  }
  // One state write: the deployment is no longer in flight, and main's new floor (git).
  agent.state.inFlight = undefined;
  const git = c.git?.role === "main" && result.outcome !== "dry-run" ? c.git : undefined;
  if (git) agent.state.git[git.remote] = { ...agent.state.git[git.remote], main: c.release.commit, at: agent.now() };
  await writeAgentState(cfg.stateDir, agent.state, { durable: git !== undefined });
  if (result.recovery) agent.emit({ type: "recovered", at: agent.now(), id: result.recovery.id, outcome: result.recovery.outcome });
  const reasons = inhibited ? [...result.reboot.reasons, `switch inhibited: ${inhibited}`] : result.reboot.reasons;
  const needed = result.reboot.needed || inhibited !== undefined;
  agent.emit({ type: "deployed", at: agent.now(), ...base(), outcome: result.outcome, generation: result.generation, reboot: needed, rebootReasons: needed ? reasons : [] });
  if (result.retention || result.retentionError) {
    agent.emit({ type: "retention", at: agent.now(), removed: result.retention?.removed ?? [], kept: result.retention?.kept ?? 0, freedBytes: result.retention?.gc?.freedBytes, error: result.retentionError });
  }
  if (result.outcome === "committed") await postDeploy(agent, { ...facts(agent, c), status: "done", generation: result.generation });
  // A new version of the agent itself, now running: moved to once this deployment is done.
  if (result.outcome === "committed" && (mode === "switch" || mode === "test")) await agent.checkSelfUpdate?.(result.toplevel);
  if (needed) {
    const when = planReboot(cfg.reboot, agent.clock(), agent.random);
    if (when) {
      agent.emit({ type: "reboot-scheduled", at: agent.now(), when: when.toISOString(), reasons });
      scheduleReboot(agent, when);
    }
  }
  return false;
}

/**
 * Inhibitors compare the running system's with the new one's: a running system without them
 * (older NixOS, or none yet) has nothing to compare, and the extra realise is skipped.
 */
async function runningHasInhibitors(agent: AgentContext): Promise<boolean> {
  return access(join(agent.layout.runDir, "current-system", "switch-inhibitors")).then(
    () => true,
    () => false,
  );
}

async function switchInhibitedAfterRealise(agent: AgentContext, c: Candidate): Promise<string | undefined> {
  const { realise } = await import("../nix/index.js");
  await realise(c.toplevel, { rootName: "agent-check", rootDir: agent.layout.gcrootDir, substituters: c.caches, trustedPublicKeys: agent.trust.cacheKeys(agent.config.trustedPublicKeys) });
  return switchInhibited(c.toplevel);
}

/**
 * `diff = true`: what the activation will change, as an event before it. The candidate is
 * realised first from the same caches with the same trusted keys the engine uses (it does that
 * next anyway, and finds it there); nothing runs yet, so nothing is compared with a booted
 * system that is not the running one. Loaded only when configured (the idle agent stays small).
 */
async function emitDiff(agent: AgentContext, c: Candidate): Promise<void> {
  const { realpath } = await import("node:fs/promises");
  const running = await realpath(join(agent.layout.runDir, "current-system")).catch(() => undefined);
  if (running === undefined) return;
  const [{ realise }, { diffSystems }] = await Promise.all([import("../nix/index.js"), import("../inspect/index.js")]);
  if (!c.builtHere) await realise(c.toplevel, { rootName: "agent-check", rootDir: agent.layout.gcrootDir, substituters: c.caches, trustedPublicKeys: agent.trust.cacheKeys(agent.config.trustedPublicKeys) });
  const d = await diffSystems(running, c.toplevel);
  agent.emit({
    type: "diff",
    at: agent.now(),
    source: c.source,
    toplevel: c.toplevel,
    from: running,
    packages: d.packages,
    closureSize: d.closureSize,
    reboot: d.reboot,
  });
}

/** How long after `disk-low` the same system is tried again. */
const DISK_LOW_RETRY_MS = 10 * 60_000;

let rebootTimer: NodeJS.Timeout | undefined;

/** One pending reboot at a time; the latest plan wins. Timers cap at ~24 days; plans are within 8. */
function scheduleReboot(agent: AgentContext, when: Date): void {
  if (rebootTimer) clearTimeout(rebootTimer);
  rebootTimer = setTimeout(
    () => {
      rebootTimer = undefined;
      void rebootNow().then((r) => agent.log.warn({ event: r.rebooted ? "rebooting" : "reboot-skipped", detail: r.detail }, r.detail));
    },
    Math.max(0, when.getTime() - agent.clock().getTime()),
  );
  rebootTimer.unref();
}

async function clearInFlight(agent: AgentContext): Promise<void> {
  if (!agent.state.inFlight) return;
  agent.state.inFlight = undefined;
  await writeAgentState(agent.config.stateDir, agent.state, { durable: false });
}

function facts(agent: AgentContext, c: Candidate): PostDeployFacts {
  return { host: agent.host, status: "done", commit: c.release.commit, ref: c.release.ref, version: c.release.version, toplevel: c.toplevel, source: c.source };
}

async function postDeploy(agent: AgentContext, f: PostDeployFacts): Promise<void> {
  const argv = agent.config.postDeploymentCommand;
  if (!argv) return;
  try {
    const r = await runPostDeploy(argv, f);
    if (r.exitCode !== 0) agent.log.warn({ event: "post-deploy-failed", exitCode: r.exitCode }, `post-deployment command exited ${r.exitCode}`);
  } catch (e) {
    agent.log.warn({ event: "post-deploy-failed", code: isOscdError(e) ? e.code : "internal" }, `post-deployment command: ${e instanceof Error ? e.message : String(e)}`);
  }
}
