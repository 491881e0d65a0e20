/**
 * The control server (issue 12): fleet state, signed releases, staged rollouts, webhooks, a
 * live dashboard and metrics over SQLite or PostgreSQL. Never trusted for content: it only
 * chooses when each host is served an already-signed manifest.
 */
export { startServer, parseListen, type RunningServer, type ServerOptions } from "./serve.js";
export { buildApp, MAX_BODY_BYTES } from "./app.js";
export { openDatabase, parseDbUrl, requireExistingDatabase, type ServerDb } from "./db/open.js";
export { createToken, revokeToken, listTokens, type CreatedToken, type TokenInfo } from "./auth.js";
export { listAudit, localWho, recorder, type AuditEntry } from "./audit.js";
export { fleetTable, type FleetRow, type FleetCounts } from "./fleet-view.js";
export { LONG_POLL_HEADER, LONG_POLL_SECONDS_HEADER, MAX_WAIT_SECONDS, DEFAULT_LONG_POLL_SECONDS } from "./routes/agent.js";
export { HttpError } from "./errors.js";
export type { RolloutView, WaveProgress, HostProgress } from "./rollouts.js";
export type { ReleaseSummary } from "./releases.js";
export { cliJobRunner, type CliJobOptions } from "./job-runner.js";
export type { JobRunner, JobResult } from "./jobs.js";
export { pruneReports, stateKey, type PruneResult } from "./report-retention.js";
export { backupDatabase, restoreDatabase, schemaVersionOf, type BackupResult, type RestoreResult } from "./backup.js";
export { loadServerTrust, trustFile } from "./trust.js";
