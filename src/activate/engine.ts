import { access } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { OscdError, isOscdError } from "../core/errors.js";
import { healthSchema, retentionActive, type HealthConfig, type Operation, type RetentionPolicy } from "../fleet/index.js";
import { addRoot, currentGeneration, PathUnavailableError, realise, removeRoot, setProfile, switchGeneration, assertStorePath } from "../nix/index.js";
import { commitDeployment } from "./commit.js";
import { maybeCrash } from "./faults.js";
import { guard, type UncheckedAllowed } from "./guard.js";
import { lastAppliedSequence, recordAppliedSequence } from "./channels.js";
import { checkBootSpace, checkStoreSpace } from "./disk-space.js";
import { checkHealth } from "./health.js";
import { advance, closeJournal, newJournal, type Journal, type Previous, type ReleaseInfo } from "./journal.js";
import { DEFAULT_LAYOUT, files, type HostLayout } from "./layout.js";
import { acquireLock } from "./lock.js";
import { readFailed, readGenerationRecord, rememberFailed } from "./records.js";
import { recoverInterrupted, type Recovery } from "./recover.js";
import { rebootNeeded, type RebootNeed } from "./reboot.js";
import { restorePrevious } from "./restore.js";
import { applyRetention, type RetentionResult } from "./retention.js";
import { DEFAULT_SWITCH_TIMEOUT_MS, switchTo } from "./switch.js";
import { waitForSwitchToEnd } from "./switch-hold.js";
import { readLinkOrUndefined } from "../core/fs.js";
import { MachineTrust } from "../trust/index.js";

export interface ActivationRequest {
  toplevel: string;
  mode: Operation;
  /** The host's name in the fleet; the toplevel's etc/hostname must match. Default: hostname. */
  host?: string;
  release?: ReleaseInfo;
  /** Move the profile to this existing generation instead of adding one (rollback). */
  generation?: number;
  substituters?: string[];
  /**
   * The machine's configured keys. Until the machine has a trust root (src/trust) they are
   * what store paths must be signed by; once it has one, its cache keys are, exactly.
   */
  trustedPublicKeys?: string[];
  /** The operator-installed first trust root (machine.toml `trustRoot`), taken when none is persisted. */
  trustRoot?: string;
  /**
   * The caller built this toplevel here (or found it valid) moments ago and holds a GC root on
   * it: the realise step only takes the deployment's own root instead of asking Nix again (a
   * Nix start). Never for paths from caches: those are realised, and their signatures checked.
   */
  builtHere?: boolean;
  health?: HealthConfig;
  allowDowngrade?: boolean;
  /** Checks given up explicitly when they cannot be made (see guard.ts). */
  allowUnchecked?: UncheckedAllowed;
  retryFailed?: boolean;
  /** Activate even when the system already runs this toplevel. */
  force?: boolean;
  switchTimeoutMs?: number;
  /**
   * Generations to keep (machine.toml / agent `retention`): applied after a committed switch or
   * boot, still under the lock. Its failure never undoes the deployment; it is reported.
   */
  retention?: RetentionPolicy;
  /**
   * Called after the switch and health checks, before the deployment is committed (journal
   * still `switched`, so a crash or reboot meanwhile is rolled back). Throwing rolls back:
   * push deploys wait here for a confirmation over a new connection (magic rollback).
   */
  beforeCommit?: () => Promise<void>;
  onProgress?: (step: string, detail: string) => void;
  layout?: HostLayout;
}

export interface ActivationResult {
  id?: string;
  outcome: "committed" | "unchanged" | "dry-run";
  toplevel: string;
  mode: Operation;
  generation?: number;
  previous: Previous;
  release: ReleaseInfo;
  reboot: RebootNeed;
  recovery?: Recovery;
  /** What retention removed after the commit. */
  retention?: RetentionResult;
  /** Retention failed after the commit (the deployment stands): why. */
  retentionError?: string;
}

export class RolledBackError extends OscdError {
  /** The code of what failed (`health-failed`, `switch-failed`, `confirm-timeout`, …); the error's own code stays `rolled-back`. */
  readonly causeCode: string;
  constructor(readonly journal: Journal, cause: string, causeCode = "internal") {
    const back = journal.previous.currentSystem ?? journal.previous.profileToplevel ?? "the previous system";
    super("rolled-back", `activation of ${journal.toplevel} failed and was rolled back to ${back}: ${cause}`, {
      hint: "the release is remembered as failed and will not be retried automatically; fix it and deploy a new one",
      exitCode: 4,
    });
    this.causeCode = causeCode;
  }
}


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
    const interrupted = await access(files(layout).journal).then(() => true, () => false);
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
        current: gen ? await readGenerationRecord(layout, gen.number) : undefined,
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

function isAlreadyThere(mode: Operation, toplevel: string, p: Previous): boolean {
  if (mode === "switch") return p.currentSystem === toplevel && p.profileToplevel === toplevel;
  if (mode === "boot") return p.profileToplevel === toplevel;
  if (mode === "test") return p.currentSystem === toplevel;
  return false;
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
