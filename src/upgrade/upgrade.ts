import { realpath } from "node:fs/promises";
import { join } from "node:path";
import { hostname } from "node:os";
import { activateHoldingLock, DEFAULT_LAYOUT, readGenerationRecords, withHostLock, type ActivationResult, type HostLayout } from "../activate/index.js";
import { buildHosts, hostTarget, pinnedFleetOf, type OverrideInputs } from "../builder/index.js";
import { OscdError } from "../core/errors.js";
import { healthSchema, hostHealth, type MachineConfig, type Operation } from "../fleet/index.js";
import { log as gitLog, type CommitInfo } from "../git/index.js";
import { currentGeneration } from "../nix/index.js";
import { diffSystems, type SystemDiff } from "../inspect/index.js";
import { describeSpec, prepareSource, type PinnedSource, type SourceSpec } from "../source/index.js";

export interface UpgradeRequest {
  spec: SourceSpec;
  mode: Operation;
  machine: MachineConfig;
  allowDowngrade?: boolean;
  retryFailed?: boolean;
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
  return withHostLock(
    layout,
    `upgrade to ${describeSpec(req.spec)}`,
    async (recovery) => {
      say("source", describeSpec(req.spec));
      const pinned = await prepareSource(req.spec, { remote: req.machine.remote, mirrorDir, tagPrefix: req.machine.tagPrefix, rootDir: layout.gcrootDir });
      say("source", `${pinned.ref} = ${pinned.commit.slice(0, 12)}${pinned.dirty ? " (with uncommitted changes)" : ""} → ${pinned.snapshot.storePath}`);
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

      const gen = await currentGeneration(layout.profile);
      const fromRecord = gen ? (await readGenerationRecords(layout)).get(gen.number) : undefined;
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
