/** The host-side activation engine, used by upgrade, the agent, push deploys and bundles. */
export { activate, activateHoldingLock, withHostLock, RolledBackError, type ActivationRequest, type ActivationResult } from "./engine.js";
export { recoverInterrupted, type Recovery } from "./recover.js";
export { generations, hostStatus, type GenerationView, type HostStatus } from "./status.js";
export { rebootNeeded, type RebootNeed } from "./reboot.js";
export { checkHealth, type HealthResult } from "./health.js";
export { BusyError } from "./lock.js";
export { SwitchFailedError } from "./switch.js";
export { DEFAULT_LAYOUT, type HostLayout } from "./layout.js";
export { BOUNDARIES, type Boundary } from "./faults.js";
export type { Journal, JournalState, ReleaseInfo, Previous } from "./journal.js";
export { readGenerationRecords, readHistory, historyReleases, type GenerationRecord, type HistoryRelease } from "./records.js";
export { lastAppliedSequence, recordAppliedSequence, type AppliedChannel } from "./channels.js";
export { releaseFromManifest, releaseFromManifestText, describeLocation, type ManifestRelease, type ManifestReleaseOptions } from "./manifest-release.js";
export type { UncheckedAllowed } from "./guard.js";
export { SWITCH_UNIT_PREFIX, runningSwitchUnits, systemdRuns } from "./transient-unit.js";
export { SwitchRunningError } from "./switch-hold.js";
export { applyRetention, retentionPlan, planRetention, compactRange, KEEP_SOURCE_ROOTS, type RetentionResult, type GenerationFate, type KeepReason, type RetentionOptions } from "./retention.js";
export { checkStoreSpace, checkBootSpace, freeBytes, DiskLowError, STORE_MARGIN_BYTES, BOOT_MARGIN_BYTES } from "./disk-space.js";
