/**
 * The server's tables as kysely sees them. Times are milliseconds since the epoch (bigint in
 * PostgreSQL, read back as numbers); JSON values are stored as text so both databases agree.
 */
export interface TokenTable {
  id: string;
  /** SHA-256 (hex) of the secret part; the secret itself is shown once and never stored. */
  hash: string;
  /** The token's role: admin | operator | viewer | host (auth.ts). */
  kind: "admin" | "operator" | "viewer" | "host";
  host: string | null;
  label: string;
  created_at: number;
  revoked_at: number | null;
}

export interface HostTable {
  name: string;
  /** JSON array of tag names. */
  tags: string;
  channel: string | null;
  created_at: number;
  last_seen: number | null;
  /** JSON of the last report's state (current system, generation, booted, reboot needed…). */
  state: string | null;
  /** new | ok | failed | rolled-back | drift | deploying | unknown (fleet-view.ts adds offline). */
  status: string;
  reason: string | null;
  /** JSON of the agent's own state as it last reported it (suspended, a failing source). */
  agent: string | null;
}

export interface ReleaseTable {
  channel: string;
  sequence: number;
  version: string;
  commit: string;
  /** The manifest exactly as uploaded and verified: the server never rewrites it. */
  body: string;
  etag: string;
  signer: string;
  /** `pending` until a rollout finishes (or it is released at once), then `complete`. */
  state: "pending" | "complete";
  created_at: number;
  /** The manifest's expiresAt (ms), null when it has none. */
  expires_at: number | null;
}

/** A host's own signed view of a release (src/manifest/host-view.ts), served instead of the whole manifest. */
export interface ReleaseViewTable {
  channel: string;
  sequence: number;
  host: string;
  etag: string;
  /** The view exactly as uploaded and verified. */
  body: string;
}

export interface AssignmentTable {
  host: string;
  channel: string;
  sequence: number;
  assigned_at: number;
  /** When the host was first served this release (its agent fetched it); null until then. */
  fetched_at: number | null;
}

/** A channel's rollout plan (oscd.toml's `[channels.<name>.rollout]`), used when a rollout names none. */
export interface ChannelPlanTable {
  channel: string;
  /** JSON of the plan (rollout-plan.ts' planSchema). */
  plan: string;
  /** Where it came from: `oscd publish`, `oscd server --fleet`, or the API. */
  source: string;
  updated_at: number;
}

export interface RolloutTable {
  id: string;
  channel: string;
  sequence: number;
  state: "running" | "paused" | "halted" | "aborted" | "done";
  /** Failures (hosts whose deployment of this release failed) above which the rollout halts. */
  max_failures: number;
  bake_ms: number;
  /** A wave host that has not reported this long after its wave started counts as failed (0: wait for ever). */
  wave_timeout_ms: number;
  current_wave: number;
  reason: string | null;
  created_at: number;
  updated_at: number;
}

export interface WaveTable {
  rollout_id: string;
  idx: number;
  name: string;
  /** JSON array of host names. */
  hosts: string;
  state: "pending" | "active" | "baking" | "done";
  started_at: number | null;
  healthy_at: number | null;
  finished_at: number | null;
}

/** One change people made through the API (audit.ts). */
export interface AuditTable {
  id: string;
  at: number;
  /** `operator token 3f2a… (ci)`: role, token id, label; never the secret. */
  actor: string;
  role: string;
  token_id: string;
  action: string;
  target: string;
  /** JSON of what was asked (the rollout's waves, the plan, …). */
  detail: string;
  /** The client it came through (`dashboard`, `cli`), as it named itself. */
  via: string | null;
}

export interface ReportTable {
  id: string;
  host: string;
  kind: "report" | "heartbeat";
  channel: string | null;
  sequence: number | null;
  status: string;
  body: string;
  received_at: number;
}

export interface JobTable {
  id: string;
  kind: string;
  /** JSON of what the job needs (the event's facts). */
  input: string;
  state: "queued" | "running" | "done" | "failed";
  log: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** Which delivery queued it (GitHub's X-GitHub-Delivery): a replayed delivery queues nothing. */
  delivery: string | null;
}

export interface MigrationTable {
  version: number;
  name: string;
  applied_at: number;
}

export interface Database {
  oscd_migrations: MigrationTable;
  tokens: TokenTable;
  hosts: HostTable;
  releases: ReleaseTable;
  release_views: ReleaseViewTable;
  assignments: AssignmentTable;
  channel_plans: ChannelPlanTable;
  audit: AuditTable;
  rollouts: RolloutTable;
  waves: WaveTable;
  reports: ReportTable;
  jobs: JobTable;
}
