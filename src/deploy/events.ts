import type { DryRunPlan } from "../core/dry-run.js";
import type { Operation } from "../fleet/index.js";
import type { SystemDiff } from "../inspect/index.js";

/** An activation mode, or `copy`: the closure goes to the host and nothing is activated (colmena's `push`). */
export type DeployMode = Operation | "copy";

/** What a deploy reports, host by host, for the CLI to print (lines, a live view, or JSON). */
export type HostResult = "done" | "copied" | "unchanged" | "rolled-back" | "refused" | "failed" | "skipped";

export interface GenerationFacts {
  generation?: number;
  version?: string;
  system?: string;
}

export interface HostReport {
  host: string;
  result: HostResult;
  old: GenerationFacts;
  new: GenerationFacts;
  timeMs: number;
  /** Deployment id on the host (oscd hosts). */
  id?: string;
  rebootNeeded?: boolean;
  /** The host was rebooted and booted the new system. */
  rebooted?: boolean;
  error?: { code: string; message: string };
  warnings: string[];
}

export type DeployEvent =
  | { type: "plan"; hosts: string[]; commit?: string; ref?: string; version?: string }
  | { type: "phase"; phase: "pin" | "reach" | "build"; detail: string }
  | { type: "host"; host: string; step: string; detail?: string }
  | { type: "warning"; host?: string; message: string }
  | { type: "diff"; host: string; diff: SystemDiff }
  | { type: "host-done"; report: HostReport }
  | { type: "stopped"; reason: string; skipped: string[] };

export interface DeployReport {
  commit?: string;
  ref?: string;
  version?: string;
  hosts: HostReport[];
  /** Why the rollout stopped early (canary failed, --fail-fast), if it did. */
  stopped?: string;
  /** With `dryRun`: what a real run would do (and `hosts` is empty). */
  plan?: DryRunPlan;
}

/** 0 all done, 4 some rolled back (and none failed otherwise), 1 some failed. */
export function deployExitCode(r: Pick<DeployReport, "hosts">): 0 | 1 | 4 {
  if (r.hosts.some((h) => h.result === "failed" || h.result === "refused" || h.result === "skipped")) return 1;
  if (r.hosts.some((h) => h.result === "rolled-back")) return 4;
  return 0;
}
