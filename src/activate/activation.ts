import { OscdError } from "../core/errors.js";
import type { HealthConfig, Operation, RetentionPolicy } from "../fleet/index.js";
import type { UncheckedAllowed } from "./guard.js";
import type { Journal, Previous, ReleaseInfo } from "./journal.js";
import type { HostLayout } from "./layout.js";
import type { RebootNeed } from "./reboot.js";
import type { Recovery } from "./recover.js";
import type { RetentionResult } from "./retention.js";

// What the engine is asked and answers, and its rollback error: apart from engine.ts so that the
// deployment's steps (deployment.ts) and the light entry (light.ts) share them without cycles.

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
