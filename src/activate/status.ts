import { hostname } from "node:os";
import { listGenerations } from "../nix/light.js";
import { readJournal, type Journal } from "./journal.js";
import { DEFAULT_LAYOUT, files, type HostLayout } from "./layout.js";
import { readFailed, readGenerationRecords, readHistory, type FailedRelease } from "./records.js";
import { rebootNeeded, type RebootNeed } from "./reboot.js";
import { readLinkOrUndefined } from "../core/fs.js";

/**
 * The stage's light entry (besides index.ts, which re-exports it): what `oscd status` reads of
 * the activation state, with none of the engine. Imports here stay light: the command loads
 * this module and its imports only (test/unit/cli/startup-modules.test.ts).
 */

export interface GenerationView {
  generation: number;
  date: string;
  toplevel: string;
  version?: string;
  commit?: string;
  ref?: string;
  sourcePath?: string;
  current: boolean;
  booted: boolean;
  running: boolean;
}

/** The system profile's generations with what oscd recorded of each, oldest first. */
export async function generations(layout: HostLayout = DEFAULT_LAYOUT): Promise<GenerationView[]> {
  const f = files(layout);
  const [gens, records, booted, running] = await Promise.all([listGenerations(layout.profile), readGenerationRecords(layout), readLinkOrUndefined(f.bootedSystem), readLinkOrUndefined(f.currentSystem)]);
  return gens.map((g) => {
    const r = records.get(g.number);
    const own = r?.toplevel === g.storePath ? r : undefined;
    return {
      generation: g.number,
      date: g.createdAt.toISOString(),
      toplevel: g.storePath,
      version: own?.version,
      commit: own?.commit,
      ref: own?.ref,
      sourcePath: own?.sourcePath,
      current: g.current,
      booted: booted === g.storePath,
      running: running === g.storePath,
    };
  });
}

export interface HostStatus {
  host: string;
  currentSystem?: string;
  bootedSystem?: string;
  generation?: GenerationView;
  source?: string;
  reboot: RebootNeed;
  /** A deployment that is running now, or that a crash interrupted (finished at next start). */
  openDeployment?: Pick<Journal, "id" | "toplevel" | "mode" | "state" | "startedAt">;
  lastDeployment?: Pick<Journal, "id" | "toplevel" | "mode" | "state" | "startedAt" | "updatedAt" | "error" | "errorCode" | "recovered" | "interrupted">;
  failedReleases: FailedRelease[];
}

export async function hostStatus(layout: HostLayout = DEFAULT_LAYOUT): Promise<HostStatus> {
  const f = files(layout);
  const [currentSystem, bootedSystem, gens, journal, history, failed, source] = await Promise.all([
    readLinkOrUndefined(f.currentSystem),
    readLinkOrUndefined(f.bootedSystem),
    generations(layout),
    readJournal(layout),
    readHistory(layout, 1),
    readFailed(layout),
    readLinkOrUndefined(f.source),
  ]);
  const pick = <T extends Journal>(j: T | undefined) => j && { id: j.id, toplevel: j.toplevel, mode: j.mode, state: j.state, startedAt: j.startedAt };
  const last = history[0];
  return {
    host: hostname(),
    currentSystem,
    bootedSystem,
    generation: gens.find((g) => g.current),
    source,
    reboot: currentSystem ? await rebootNeeded(currentSystem, f.bootedSystem) : { needed: false, reasons: [] },
    openDeployment: pick(journal),
    lastDeployment: last && { ...pick(last)!, updatedAt: last.updatedAt, error: last.error, errorCode: last.errorCode, recovered: last.recovered, interrupted: last.interrupted },
    failedReleases: failed,
  };
}
