import type { AuditEntry, FleetCounts, FleetRow, ReleaseSummary } from "../server/index.js";
import type { RolloutPlan } from "../plan/index.js";
import type { ServerClient } from "./request.js";
import { RELEASE_WITH_VIEWS } from "../manifest/host-view.js";

export interface UploadedRelease {
  channel: string;
  sequence: number;
  version: string;
  /** `pending`: waits for a rollout; `complete`: served to every host. */
  state: string;
  created: boolean;
}

/**
 * `oscd publish --server URL`: tells a control server of a manifest just written. The server
 * verifies it as an agent would (signature by a trusted key, newer sequence, not expired), so
 * this only saves it reading the cache; it cannot make a release the server would not accept.
 * `immediate`: served to every host at once, no rollout. `views`: each host's signed view of the
 * manifest (src/manifest/host-view.ts), uploaded with it in one request; the server checks each.
 */
export async function uploadRelease(c: ServerClient, manifestText: string, opts: { immediate?: boolean; views?: readonly string[] } = {}): Promise<UploadedRelease> {
  // One request carries the manifest and every view, each the exact signed text.
  const raw = opts.views ? JSON.stringify({ manifest: manifestText, views: opts.views }) : manifestText;
  const r = await c.request<Partial<UploadedRelease>>("POST", `/api/v1/releases${opts.immediate ? "?immediate=1" : ""}`, { raw, contentType: opts.views ? RELEASE_WITH_VIEWS : undefined, timeoutMs: 120_000 });
  return { channel: String(r.channel), sequence: Number(r.sequence), version: String(r.version ?? ""), state: String(r.state ?? ""), created: r.created === true };
}

/** Serves a pending release to every host at once (the dashboard's "Release to every host"). */
export async function releaseToAll(c: ServerClient, channel: string, sequence: number): Promise<void> {
  await c.request("POST", `/api/v1/releases/${encodeURIComponent(channel)}/${sequence}/complete`);
}

export async function listReleases(c: ServerClient, channel?: string): Promise<ReleaseSummary[]> {
  return (await c.request<{ releases: ReleaseSummary[] }>("GET", `/api/v1/releases${channel ? `?channel=${encodeURIComponent(channel)}` : ""}`)).releases;
}

/** The channel's rollout plan as the server keeps it (used when a rollout names no waves). */
export async function getPlan(c: ServerClient, channel: string): Promise<{ plan: RolloutPlan; source: string } | undefined> {
  const r = await c.request<{ plan: RolloutPlan | null; source?: string }>("GET", `/api/v1/channels/${encodeURIComponent(channel)}/plan`);
  return r.plan ? { plan: r.plan, source: r.source ?? "" } : undefined;
}

export async function putPlan(c: ServerClient, channel: string, plan: RolloutPlan, source: string): Promise<void> {
  await c.request("PUT", `/api/v1/channels/${encodeURIComponent(channel)}/plan`, { body: { plan, source } });
}

/** The fleet table and its counts per status. */
export async function fetchFleet(c: ServerClient): Promise<{ hosts: FleetRow[]; counts: FleetCounts }> {
  return c.request<{ hosts: FleetRow[]; counts: FleetCounts }>("GET", "/api/v1/hosts");
}

/** The server's audit list, newest first: who changed what, when, through which client. */
export async function listAudit(c: ServerClient, opts: { limit?: number; before?: number } = {}): Promise<AuditEntry[]> {
  const q = new URLSearchParams();
  if (opts.limit !== undefined) q.set("limit", String(opts.limit));
  if (opts.before !== undefined) q.set("before", String(opts.before));
  return (await c.request<{ entries: AuditEntry[] }>("GET", `/api/v1/audit${q.size ? `?${q}` : ""}`)).entries;
}
