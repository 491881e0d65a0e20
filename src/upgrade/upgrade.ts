import { realpath } from "node:fs/promises";
import { join } from "node:path";
import { hostname } from "node:os";
import { activateHoldingLock, DEFAULT_LAYOUT, readGenerationRecords, withHostLock, type ActivationResult, type HostLayout } from "../activate/index.js";
import { buildHosts, hostTarget, pinnedFleetOf, type OverrideInputs } from "../builder/index.js";
import { GuardError, OscdError, UsageError } from "../core/errors.js";
import { healthSchema, hostHealth, type MachineConfig, type Operation } from "../fleet/index.js";
import { GitBadSignatureError, log as gitLog, resolveCommit, signatureTrustOf, verifyByAny, verifySignedHistory, type CommitInfo } from "../git/index.js";
import { currentGeneration } from "../nix/index.js";
import { diffSystems, type SystemDiff } from "../inspect/index.js";
import { describeSpec, prepareSource, type PinnedSource, type SourceSpec } from "../source/index.js";

export interface UpgradeRequest {
  spec: SourceSpec;
  mode: Operation;
  machine: MachineConfig;
  allowDowngrade?: boolean;
  retryFailed?: boolean;
  /** Every commit since the running release's must be signed (`--require-signed-history`); default: the machine's setting. */
  requireSignedHistory?: boolean;
  /** Flake inputs replaced at evaluation (`--override-input NAME=REF`). */
  overrideInputs?: OverrideInputs;
  onProgress?: (step: string, detail: string) => void;
  /** `--diff`: compare the running system with the new one and report it before activating. */
  onDiff?: (diff: SystemDiff | undefined) => void;
  layout?: HostLayout;
}

export interface UpgradeResult {
  source: Pick<PinnedSource, "commit" | "ref" | "tag" | "version" | "dirty"> & { storePath: string };
  from?: { version?: string; commit?: string; generation?: number };
  activation: ActivationResult;
  /** With onDiff: the running system → the new one (undefined when nothing runs yet). */
  diff?: SystemDiff;
  /** Commits between the running release and the new one, newest first. */
  changelog: CommitInfo[];
}

/**
 * The one-step upgrade (RFC R4): pin the source to an exact commit as a read-only snapshot,
 * build this host from it, activate with the engine. The source step changes nothing on the
 * machine but its store (R2.3); the host lock is held from the start, so a second upgrade
 * is refused rather than queued.
 */
export async function upgrade(req: UpgradeRequest): Promise<UpgradeResult> {
  const layout = req.layout ?? DEFAULT_LAYOUT;
  const say = (step: string, detail: string) => req.onProgress?.(step, detail);
  const host = req.machine.host ?? hostname();
  const mirrorDir = join(layout.stateDir, "repo.git");
  const requireHistory = req.requireSignedHistory ?? req.machine.requireSignedHistory ?? false;
  if (requireHistory && !req.machine.allowedSignersPath && !req.machine.gpgPublicKeyPaths?.length) {
    throw new UsageError("--require-signed-history needs the keys to check signatures with", "set allowedSignersPath or gpgPublicKeyPaths in /etc/oscd/machine.toml", "signed-history-no-keys");
  }
  return withHostLock(
    layout,
    `upgrade to ${describeSpec(req.spec)}`,
    async (recovery) => {
      say("source", describeSpec(req.spec));
      const pinned = await prepareSource(req.spec, { remote: req.machine.remote, mirrorDir, tagPrefix: req.machine.tagPrefix, rootDir: layout.gcrootDir });
      say("source", `${pinned.ref} = ${pinned.commit.slice(0, 12)}${pinned.dirty ? " (with uncommitted changes)" : ""} → ${pinned.snapshot.storePath}`);
      const gen = await currentGeneration(layout.profile);
      const fromRecord = gen ? (await readGenerationRecords(layout)).get(gen.number) : undefined;
      // Checked before anything of the commit is evaluated or built.
      await checkSignatures(req, layout, mirrorDir, pinned, fromRecord?.commit, requireHistory, say);
      const p = await pinnedFleetOf(pinned, req.machine.remote ?? mirrorDir);
      const fleet = p.fleet;
      const settings: Record<string, string> = {};
      if (req.machine.substituters.length > 0) settings.substituters = req.machine.substituters.join(" ");
      if (req.machine.trustedPublicKeys.length > 0) settings["trusted-public-keys"] = req.machine.trustedPublicKeys.join(" ");
      say("build", `${host}`);
      // The build stage's own build of one host: rooted before it starts, substituting what
      // the machine's caches have.
      const report = await buildHosts(
        p,
        { overrideInputs: req.overrideInputs, rootDir: layout.gcrootDir, nix: { settings, onLog: (l) => say("build", l) } },
        hostTarget(p, host),
      );
      const built = report.hosts[0];
      if (built?.toplevel === undefined || built.status === "failed") {
        throw built?.error ?? new OscdError("build-failed", `building ${host} gave no toplevel`, { hint: "run oscd build on the fleet repository to see each step" });
      }
      say("build", built.toplevel);
      let diff: SystemDiff | undefined;
      if (req.onDiff) {
        const running = await realpath(join(layout.runDir, "current-system")).catch(() => undefined);
        diff = running === undefined ? undefined : await diffSystems(running, built.toplevel);
        req.onDiff(diff);
      }

      const health = healthSchema.parse({ ...hostHealth(fleet, host), ...(req.machine.health ?? {}) });
      const activation = await activateHoldingLock(
        {
          toplevel: built.toplevel,
          mode: req.mode,
          host,
          release: { version: pinned.version, commit: pinned.commit, ref: pinned.ref, tag: pinned.tag, sourcePath: pinned.snapshot.storePath },
          substituters: req.machine.substituters,
          trustedPublicKeys: req.machine.trustedPublicKeys,
          health,
          retention: req.machine.retention,
          allowDowngrade: req.allowDowngrade,
          retryFailed: req.retryFailed,
          onProgress: req.onProgress,
          layout,
        },
        recovery,
      );
      let changelog: CommitInfo[] = [];
      if (fromRecord?.commit && !pinned.dirty && pinned.spec.kind !== "local" && fromRecord.commit !== pinned.commit) {
        changelog = await gitLog(mirrorDir, fromRecord.commit, pinned.commit, { maxCount: 100 }).catch(() => []);
      }
      return {
        source: { commit: pinned.commit, ref: pinned.ref, tag: pinned.tag, version: pinned.version, dirty: pinned.dirty, storePath: pinned.snapshot.storePath },
        from: gen ? { version: fromRecord?.version, commit: fromRecord?.commit, generation: gen.number } : undefined,
        activation,
        diff,
        changelog,
      };
    },
    (line) => say("recover", line),
  );
}

/**
 * With signing keys in the machine configuration, only a commit signed by one of them is built
 * (as the agent's git mode); with signed history required, every commit since the running
 * release's commit too (`verifySignedHistory`), so an unsigned commit cannot ride in under a
 * signed tag. A local working tree is no signed commit: refused. A running release whose commit
 * the repository does not have cannot be the start of the check: refused as well, never skipped.
 * The first upgrade (no release recorded) checks the new commit alone.
 */
async function checkSignatures(
  req: UpgradeRequest,
  layout: HostLayout,
  mirrorDir: string,
  pinned: PinnedSource,
  fromCommit: string | undefined,
  requireHistory: boolean,
  say: (step: string, detail: string) => void,
): Promise<void> {
  const keys = { allowedSignersPath: req.machine.allowedSignersPath, gpgPublicKeyPaths: req.machine.gpgPublicKeyPaths ?? [] };
  const trust = await signatureTrustOf(keys, join(layout.stateDir, "gnupg"), "machine-config");
  if (trust.length === 0) return;
  if (pinned.spec.kind === "local") {
    throw new GuardError("source-unsigned", `${pinned.spec.path} is a working tree, not a signed commit, and this machine builds only commits signed by its keys (allowedSignersPath, gpgPublicKeyPaths)`, "commit and sign the change, push it, and upgrade from the remote");
  }
  if (requireHistory && fromCommit !== undefined && fromCommit !== pinned.commit) {
    const known = await resolveCommit(mirrorDir, fromCommit).then(
      () => true,
      () => false,
    );
    if (!known) {
      throw new GuardError(
        "signed-history-unverifiable",
        `the running release's commit ${fromCommit.slice(0, 12)} is not in the fleet repository, so the commits since it cannot be checked for signatures`,
        "fetch a remote that has it (--remote), or upgrade once without requireSignedHistory if the new commit is known good",
      );
    }
    const n = await verifySignedHistory(mirrorDir, fromCommit, pinned.commit, trust);
    say("verify", `${n} commit(s) since ${fromCommit.slice(0, 12)} signed by trusted keys`);
    return;
  }
  try {
    const v = await verifyByAny(mirrorDir, pinned.commit, trust);
    say("verify", `${pinned.commit.slice(0, 12)} signed by ${v.signer.replace(/[^\x20-\x7e]/g, "?")}`);
  } catch (e) {
    throw e instanceof GitBadSignatureError || e instanceof GuardError ? e : new GuardError("git-bad-signature", `commit ${pinned.commit.slice(0, 12)} has no signature by a trusted key: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
  }
}
