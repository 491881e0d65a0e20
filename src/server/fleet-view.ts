import type { ServerContext } from "./context.js";

/** One row of the fleet table (dashboard, `oscd status --server`, `GET /api/v1/hosts`). */
export interface FleetRow {
  host: string;
  tags: string[];
  channel: string | null;
  desired: { sequence: number; version: string; commit: string; expiresAt: number | null; expiry: Expiry } | null;
  current: { sequence: number | null; version: string | null; commit: string | null; toplevel: string | null; generation: number | null; booted: string | null; rebootNeeded: boolean | null };
  lastSeen: number | null;
  /**
   * new | ok | rolled-back (a deployment failed and was undone: the host is whole) | failed (a
   * refusal, or a failure without a rollback) | drift (the running system was changed outside
   * the agent) | deploying | unknown | offline (silent 10 min)
   */
  status: string;
  /** Cause first (the unit or check, then the code, then the systems, shortened). */
  reason: string | null;
  /** The agent's own state as it last reported it. */
  agent: { suspended: boolean; fetchError: { source: string; message: string; retryInSeconds?: number } | null; at: string | null } | null;
}

/** ok; `soon`: under a quarter of its validity (or a day) left; `expired`: hosts refuse it now. */
export type Expiry = "ok" | "soon" | "expired" | "none";

export function expiryOf(createdAt: number, expiresAt: number | null, now: number): Expiry {
  if (expiresAt === null) return "none";
  if (expiresAt <= now) return "expired";
  const left = expiresAt - now;
  return left < Math.min(86_400_000, Math.max(3_600_000, (expiresAt - createdAt) / 4)) ? "soon" : "ok";
}

/** Hosts per status, for the fleet view's summary. */
export type FleetCounts = Record<"ok" | "rolled-back" | "failed" | "drift" | "offline" | "deploying" | "new" | "unknown", number>;

export function fleetCounts(rows: readonly FleetRow[]): FleetCounts {
  const c: FleetCounts = { ok: 0, "rolled-back": 0, failed: 0, drift: 0, offline: 0, deploying: 0, new: 0, unknown: 0 };
  for (const r of rows) c[(r.status in c ? r.status : "unknown") as keyof FleetCounts]++;
  return c;
}

/** Hosts silent this long are shown offline. */
export const OFFLINE_AFTER_MS = 10 * 60_000;

function field<T>(o: Record<string, unknown>, k: string, ok: (v: unknown) => v is T): T | null {
  return ok(o[k]) ? (o[k] as T) : null;
}
const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number";
const isBool = (v: unknown): v is boolean => typeof v === "boolean";

export async function fleetTable(ctx: Pick<ServerContext, "db" | "now">, only?: string): Promise<FleetRow[]> {
  let q = ctx.db.selectFrom("hosts").selectAll().orderBy("name");
  if (only) q = q.where("name", "=", only);
  const hosts = await q.execute();
  const releases = await ctx.db.selectFrom("releases").select(["channel", "sequence", "version", "commit", "state", "created_at", "expires_at"]).execute();
  let aq = ctx.db.selectFrom("assignments").selectAll();
  if (only) aq = aq.where("host", "=", only);
  const assignments = await aq.execute();
  const rel = new Map(releases.map((r) => [`${r.channel}#${r.sequence}`, r]));
  const base = new Map<string, (typeof releases)[number]>();
  for (const r of releases) if (r.state === "complete" && (base.get(r.channel)?.sequence ?? -1) < r.sequence) base.set(r.channel, r);
  const cutoff = ctx.now() - OFFLINE_AFTER_MS;
  return hosts.map((h) => {
    const state = (h.state ? JSON.parse(h.state) : {}) as Record<string, unknown>;
    const channel = h.channel ?? field(state, "channel", isString);
    let desired: FleetRow["desired"] = null;
    if (channel) {
      const a = assignments.find((x) => x.host === h.name && x.channel === channel);
      const b = base.get(channel);
      const r = a && (!b || a.sequence >= b.sequence) ? rel.get(`${channel}#${a.sequence}`) : b;
      if (r) desired = { sequence: r.sequence, version: r.version, commit: r.commit, expiresAt: r.expires_at, expiry: expiryOf(r.created_at, r.expires_at, ctx.now()) };
    }
    return {
      host: h.name,
      tags: JSON.parse(h.tags) as string[],
      channel,
      desired,
      current: {
        sequence: field(state, "sequence", isNumber),
        version: field(state, "version", isString),
        commit: field(state, "commit", isString),
        toplevel: field(state, "toplevel", isString),
        generation: field(state, "generation", isNumber),
        booted: field(state, "booted", isString),
        rebootNeeded: field(state, "rebootNeeded", isBool),
      },
      lastSeen: h.last_seen,
      status: h.last_seen !== null && h.last_seen < cutoff ? "offline" : h.status,
      reason: h.reason,
      agent: agentOf(h.agent),
    };
  });
}

function agentOf(raw: string | null): FleetRow["agent"] {
  if (!raw) return null;
  const a = JSON.parse(raw) as Record<string, unknown>;
  const f = a.fetchError as Record<string, unknown> | null | undefined;
  return {
    suspended: a.suspended === true,
    fetchError: f && typeof f === "object" ? { source: String(f.source ?? ""), message: String(f.message ?? ""), ...(typeof f.retryInSeconds === "number" ? { retryInSeconds: f.retryInSeconds } : {}) } : null,
    at: typeof a.at === "string" ? a.at : null,
  };
}
