/**
 * What a command run with `--dry-run` would do, step by step, instead of doing it. Every
 * stage builds its own plan from the same facts a real run acts on (so the plan names the
 * hosts, paths, refs and URLs the real run then touches); the CLI prints it, or with --json
 * prints it as is. URLs in a plan never carry credentials.
 */
export interface DryRunStep {
  /** What would happen, as a verb: upload, write, sign, copy, activate, tag, push, commit… */
  action: string;
  /** What it acts on: a URL (redacted), a path, a ref, a host. */
  target: string;
  /** The host it is for, when it is one host's. */
  host?: string;
  /** Anything else that says exactly what: counts, sizes, store paths, sequences. */
  detail?: string;
}

export interface DryRunPlan {
  dryRun: true;
  /** The command, e.g. `publish`, `release bump`. */
  command: string;
  /** What the dry run itself did to know the plan (evaluated, built, read the channel…). */
  did: string[];
  steps: DryRunStep[];
  warnings: string[];
}

export function dryRunPlan(command: string, did: string[] = [], warnings: string[] = []): DryRunPlan {
  return { dryRun: true, command, did, steps: [], warnings };
}
