import { access } from "node:fs/promises";
import { join } from "node:path";
import { OscdError, isOscdError } from "../core/errors.js";
import { healthSchema, retentionActive } from "../fleet/index.js";
import { addRoot, currentGeneration, PathUnavailableError, realise, removeRoot, setProfile, switchGeneration } from "../nix/index.js";
import type { MachineTrust } from "../trust/index.js";
import { commitDeployment } from "./commit.js";
import { maybeCrash } from "./faults.js";
import { guard } from "./guard.js";
import { lastAppliedSequence } from "./channels.js";
import { checkBootSpace, checkStoreSpace } from "./disk-space.js";
import { checkHealth } from "./health.js";
import { advance, closeJournal, newJournal, type Journal, type Previous, type ReleaseInfo } from "./journal.js";
import { files, type HostLayout } from "./layout.js";
import { readFailed, readGenerationRecord, rememberFailed } from "./records.js";
import { rebootNeeded } from "./reboot.js";
import { restorePrevious } from "./restore.js";
import { applyRetention } from "./retention.js";
import { switchTo } from "./switch.js";
import { RolledBackError, type ActivationRequest, type ActivationResult } from "./activation.js";

/** What the engine found before it decided there is a deployment to make (engine.ts). */
export interface DeploymentStart {
  layout: HostLayout;
  toplevel: string;
  host: string;
  release: ReleaseInfo;
  previous: Previous;
  /** The profile's current generation number, if any. */
  gen: number | undefined;
  base: Pick<ActivationResult, "toplevel" | "mode" | "previous" | "release" | "recovery">;
  trust: MachineTrust;
}

/**
 * The engine's steps once it holds the lock and the system is not already there: journal →
 * realise → guard → profile → switch → health → commit or roll back → retention. A module of
 * its own so that an activation with nothing to do (the agent's every tick, `oscd activate` of
 * the running system) loads none of it: engine.ts imports it when there is a deployment.
 */
export async function deploy(req: ActivationRequest, s: DeploymentStart): Promise<ActivationResult> {
  const { layout, toplevel, host, release, previous, gen, base, trust } = s;
  const f = files(layout);
  const say = (step: string, detail: string) => req.onProgress?.(step, detail);
  let j = newJournal({ toplevel, mode: req.mode, host, release, previous });
  if (req.mode !== "dry-activate") {
    j = await advance(layout, j, "locked");
    maybeCrash("locked");
  }

  // Nothing changed on the system yet: a refusal here closes the deployment as aborted with
  // its cause and drops its GC root, so the history says why and nothing stays "in progress".
  const abort = async (e: unknown): Promise<never> => {
    await removeRoot(`pending-${j.id}`, layout.gcrootDir);
    if (req.mode !== "dry-activate") await closeJournal(layout, await advance(layout, j, "aborted", { error: errText(e), errorCode: errCode(e) }));
    throw e;
  };

  // A closure that cannot fit is refused before a byte is downloaded (a full disk half-way is
  // a failed realise, and a full /nix a broken machine).
  // The keys store paths must be signed by, for both the narinfos read here and the realise.
  const cacheKeys = trust.cacheKeys(req.trustedPublicKeys ?? []);
  let signatureChecked: { cache: string; keys: readonly string[] } | undefined;
  if (!req.builtHere && req.generation === undefined) {
    say("disk", "checking free space in the store");
    const space = await checkStoreSpace(toplevel, { substituters: req.substituters, trustedPublicKeys: cacheKeys }).catch(abort);
    if (space.need) say("disk", `${space.need.paths} path(s), ${mibText(space.need.narBytes)} to fetch; ${mibText(space.freeBytes)} free`);
    // The toplevel's own signed record was just read: the realise need not read it again.
    if (space.need?.rootSignedIn !== undefined) signatureChecked = { cache: space.need.rootSignedIn, keys: cacheKeys };
  }

  say("realise", toplevel);
  if (req.builtHere) await addRoot(toplevel, `pending-${j.id}`, layout.gcrootDir).then(() => assertPresent(toplevel)).catch(abort);
  else await realise(toplevel, { rootName: `pending-${j.id}`, rootDir: layout.gcrootDir, substituters: req.substituters, trustedPublicKeys: cacheKeys, signatureChecked }).catch(abort);
  if (req.mode !== "dry-activate") j = await advance(layout, j, "realised");
  maybeCrash("realised");

  say("guard", `host ${host}`);
  try {
    await guard({
      toplevel,
      host,
      machineIdFile: "/etc/machine-id",
      release,
      current: gen !== undefined ? await readGenerationRecord(layout, gen) : undefined,
      failed: await readFailed(layout),
      lastSequence: release.channel !== undefined ? await lastAppliedSequence(layout, release.channel, release.epoch) : undefined,
      revoked: trust.findRevoked({ channel: release.channel, sequence: release.sequence, commit: release.commit, toplevel }),
      // A rollback goes to a generation this machine's profile already had: like a
      // downgrade, checks that cannot be made are given up unless the caller says otherwise.
      allowUnchecked: req.allowUnchecked ?? (req.generation !== undefined ? { host: true, machineId: true, version: true } : undefined),
      allowDowngrade: req.allowDowngrade ?? req.generation !== undefined,
      retryFailed: req.retryFailed ?? req.generation !== undefined,
    });
  } catch (e) {
    await abort(e);
  }
  if (req.mode === "switch" || req.mode === "boot") await checkBootSpace(toplevel, layout).catch(abort);

  if (req.mode === "dry-activate") {
    say("dry-activate", toplevel);
    try {
      await switchTo(toplevel, "dry-activate", f.switchHold, { timeoutMs: req.switchTimeoutMs, onLine: (l) => say("switch", l) });
    } finally {
      await removeRoot(`pending-${j.id}`, layout.gcrootDir);
    }
    return { ...base, outcome: "dry-run", reboot: await rebootNeeded(toplevel, f.bootedSystem) };
  }
  j = await advance(layout, j, "guarded");
  maybeCrash("guarded");

  if (req.mode === "switch" || req.mode === "boot") {
    if (req.generation !== undefined) {
      say("profile", `generation ${req.generation}`);
      await switchGeneration(req.generation, layout.profile);
    } else {
      say("profile", `new generation of ${layout.profile}`);
      await setProfile(toplevel, layout.profile);
    }
    const made = await currentGeneration(layout.profile);
    j = await advance(layout, j, "profile-set", { generation: made?.number });
    maybeCrash("profile-set");
  }

  try {
    say("switch", `switch-to-configuration ${req.mode}`);
    await switchTo(toplevel, req.mode, f.switchHold, { timeoutMs: req.switchTimeoutMs, onLine: (l) => say("switch", l) });
    j = await advance(layout, j, "switched");
    maybeCrash("switched");
    if (req.mode === "switch" || req.mode === "test") {
      const health = req.health ?? healthSchema.parse({});
      say("health", "checking");
      const h = await checkHealth(health, (n, fails) => say("health", fails.length ? `attempt ${n}: ${fails.join("; ")}` : `attempt ${n}: healthy`));
      if (!h.ok) throw new OscdError("health-failed", `health checks failed after ${h.attempts} attempt(s): ${h.failures.join("; ")}`);
    }
    if (req.beforeCommit) await req.beforeCommit();
  } catch (e) {
    await rollBack(layout, j, errText(e), say, errCode(e));
    throw new RolledBackError(j, errText(e), errCode(e));
  }
  j = await advance(layout, j, "checked");
  maybeCrash("checked");

  await commitDeployment(layout, j);
  j = await advance(layout, j, "committed");
  maybeCrash("committed");
  await closeJournal(layout, j);
  say("done", `${req.mode} ${toplevel}`);
  const kept = await retain(layout, req, say);
  return { ...base, id: j.id, outcome: "committed", generation: j.generation, reboot: await rebootNeeded(toplevel, f.bootedSystem), ...kept };
}

/** The retention step after a commit: the deployment stands whatever happens here. */
async function retain(layout: HostLayout, req: ActivationRequest, say: (step: string, detail: string) => void): Promise<Pick<ActivationResult, "retention" | "retentionError">> {
  if (!retentionActive(req.retention) || (req.mode !== "switch" && req.mode !== "boot")) return {};
  try {
    const retention = await applyRetention(layout, req.retention, { switchTimeoutMs: req.switchTimeoutMs, log: (l) => say("retention", l) });
    return { retention };
  } catch (e) {
    say("retention", `failed (the deployment stands): ${errText(e)}`);
    return { retentionError: errText(e) };
  }
}

const mibText = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** A toplevel the caller built: still on disk now that the deployment's root holds it. */
async function assertPresent(toplevel: string): Promise<void> {
  try {
    await access(join(toplevel, "bin", "switch-to-configuration"));
  } catch {
    throw new PathUnavailableError(toplevel, "the caller built it, but it is not in the store (any more)");
  }
}

export async function rollBack(layout: HostLayout, j: Journal, reason: string, say: (step: string, detail: string) => void, code?: string): Promise<Journal> {
  say("rollback", code ? `${code}: ${reason}` : reason);
  let cur = await advance(layout, j, "rolling-back", { error: reason, errorCode: code });
  maybeCrash("rolling-back");
  await restorePrevious(layout, cur, (l) => say("rollback", l));
  await rememberFailed(layout, cur, reason);
  cur = await advance(layout, cur, "rolled-back");
  await closeJournal(layout, cur);
  return cur;
}

function errCode(e: unknown): string {
  return isOscdError(e) ? e.code : "internal";
}

function errText(e: unknown): string {
  if (isOscdError(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}
