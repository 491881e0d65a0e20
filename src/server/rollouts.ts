import { randomBytes } from "node:crypto";
import { sql, type Kysely, type Transaction } from "kysely";
import { dialectOf, oneOf } from "./db/dialect-of.js";
import type { Database, RolloutTable, WaveTable } from "./db/schema.js";
import { conflict, HttpError, notFound } from "./errors.js";
import { releaseHosts } from "./releases.js";
import { causeOf, foldStatus } from "./reports.js";
import { checkChannel } from "./names.js";
import { getPlan } from "./plans.js";
import { parseRolloutSpec, planWaves, resolveSpec, type PlannedWave } from "./rollout-plan.js";
import type { Recorder } from "./recorder.js";

/**
 * Staged rollouts. A rollout is a delay, never content: each wave's hosts are assigned the
 * release (served its signed manifest) when the wave starts; the wave is done when every one of
 * its hosts reported the release healthy and a bake time passed; then the next wave starts.
 * Failed hosts above `max_failures` halt it. Paused, halted and aborted rollouts move nobody;
 * hosts not yet reached keep their previous manifest. Undoing a wave is a newer signed manifest
 * rolled out the same way, never an unsigned instruction.
 *
 * `advance()` is idempotent and runs on a timer and after reports; every step is one
 * transaction, so two server processes advancing at once change nothing twice.
 */
/**
 * Where one host of a rollout stands: `waiting` (its wave has not started), `assigned` (the
 * server serves it the release; its agent has not fetched it yet), `deploying` (fetched, no
 * report yet), `ok` (reported healthy), `failed` (rolled back, refused, or silent past the wave
 * timeout), with when and why.
 */
export interface HostProgress {
  host: string;
  state: "waiting" | "assigned" | "deploying" | "ok" | "failed";
  /** When it entered that state (ms), when known. */
  at: number | null;
  /** For `failed`: the cause the host reported (or the silence). */
  reason: string | null;
}

export interface WaveProgress {
  idx: number;
  name: string;
  state: WaveTable["state"];
  hosts: string[];
  healthy: string[];
  failed: string[];
  pending: string[];
  startedAt: number | null;
  healthyAt: number | null;
  finishedAt: number | null;
  /** While baking: when the bake ends and the next wave may start. */
  bakeEndsAt: number | null;
  progress: HostProgress[];
}

export interface RolloutView extends RolloutTable {
  /** The release's version, for people. */
  version: string | null;
  waves: WaveProgress[];
}

type Db = Kysely<Database> | Transaction<Database>;

const ACTIVE: RolloutTable["state"][] = ["running", "paused"];

/**
 * Starts a rollout (its first wave at once). `record` writes the audit record in the same
 * transaction, given the rollout's id, channel and sequence.
 */
export async function createRollout(db: Kysely<Database>, raw: unknown, now = Date.now(), record?: (r: { id: string; channel: string; sequence: number; waves: PlannedWave[] }) => Recorder): Promise<{ id: string; changed: string[] }> {
  const given = parseRolloutSpec(raw);
  const channel = checkChannel(given.channel);
  const spec = resolveSpec(given, (await getPlan(db, channel))?.plan);
  const id = randomBytes(8).toString("hex");
  await db.transaction().execute(async (trx) => {
    let q = trx.selectFrom("releases").select(["body", "state", "sequence"]).where("channel", "=", channel);
    q = given.sequence === undefined ? q.orderBy("sequence", "desc").limit(1) : q.where("sequence", "=", given.sequence);
    const release = await q.executeTakeFirst();
    if (!release) throw notFound(given.sequence === undefined ? `a release of channel ${channel}` : `release ${channel} #${given.sequence}`);
    const sequence = release.sequence;
    const base = await trx.selectFrom("releases").select("sequence").where("channel", "=", channel).where("state", "=", "complete").orderBy("sequence", "desc").limit(1).executeTakeFirst();
    if (base && base.sequence >= sequence) throw conflict("rollout-stale", `channel ${channel} already serves release #${base.sequence} to every host; #${sequence} is not newer`);
    const busy = await trx.selectFrom("rollouts").select(["id", "state"]).where("channel", "=", channel).where("state", "in", ACTIVE).executeTakeFirst();
    if (busy) throw conflict("rollout-busy", `channel ${channel} has rollout ${busy.id} ${busy.state}; abort it first`);
    // A halted rollout stays for the record; the new one (usually a revert) supersedes it.
    await trx.updateTable("rollouts").set({ state: "aborted", reason: `superseded by rollout ${id}`, updated_at: now }).where("channel", "=", channel).where("state", "=", "halted").execute();
    const hostRows = await trx.selectFrom("hosts").select(["name", "tags"]).execute();
    const tags = new Map(hostRows.map((h) => [h.name, JSON.parse(h.tags) as string[]]));
    const waves = planWaves(releaseHosts(release.body), (h) => tags.get(h) ?? [], spec);
    if (waves.length === 0) throw new HttpError(400, "bad-rollout", `release ${channel} #${sequence} names no hosts`);
    await trx
      .insertInto("rollouts")
      .values({ id, channel, sequence, state: "running", max_failures: spec.maxFailures, bake_ms: Math.round(spec.bakeSeconds * 1000), wave_timeout_ms: Math.round(spec.waveTimeoutSeconds * 1000), current_wave: 0, reason: null, created_at: now, updated_at: now })
      .execute();
    await trx
      .insertInto("waves")
      .values(waves.map((w, idx) => ({ rollout_id: id, idx, name: w.name, hosts: JSON.stringify(w.hosts), state: "pending" as const, started_at: null, healthy_at: null, finished_at: null })))
      .execute();
    await record?.({ id, channel, sequence, waves })(trx);
  });
  const changed = await advance(db, id, now);
  return { id, changed };
}

/**
 * Per host of a release: its latest report's folded status, when, and (with `causes`) the
 * cause a failed one gave. One query over the release's reports (index reports_release),
 * filtered here: a rollout's hosts are its release's, and 20 queries of 500 names each were
 * most of a 10,000-host rollout's view on PostgreSQL, read again on every change while it runs
 * (`oscd rollout start --watch`, the dashboard), and of `advance`, several times a second while
 * reports arrive. `advance` needs no causes and reads no report bodies.
 */
async function reported(db: Db, channel: string, sequence: number, hosts: readonly string[], causes: boolean): Promise<Map<string, Reported>> {
  const out = new Map<string, Reported>();
  if (hosts.length === 0) return out;
  const wanted = new Set(hosts);
  const rows = await db
    .selectFrom("reports")
    .select(["host", "status", "received_at"])
    .$if(causes, (q) => q.select("body"))
    .where("channel", "=", channel)
    .where("sequence", "=", sequence)
    .where("kind", "=", "report")
    .orderBy("received_at")
    .execute();
  for (const r of rows) {
    if (!wanted.has(r.host)) continue;
    const status = foldStatus(r.status);
    out.set(r.host, { status, at: r.received_at, reason: status === "failed" && r.body !== undefined ? causeOf(JSON.parse(r.body) as Record<string, unknown>) : null });
  }
  return out;
}

interface Reported {
  status: ReturnType<typeof foldStatus>;
  at: number;
  reason: string | null;
}

/**
 * A wave's hosts are served the release, in one statement whatever the wave's size: the hosts
 * go as one parameter (a PostgreSQL array, a JSON list for SQLite). Twenty statements of 500
 * were 250–360 ms of a 10,000-host rollout's start on PostgreSQL, one round trip each, while
 * every agent of the wave waited.
 */
async function assign(trx: Transaction<Database>, hosts: readonly string[], channel: string, sequence: number, now: number): Promise<void> {
  if (hosts.length === 0) return;
  const unique = [...new Set(hosts)];
  const upsert = sql`on conflict (host, channel) do update set sequence = excluded.sequence, assigned_at = excluded.assigned_at, fetched_at = null`;
  if (dialectOf(trx) === "postgres") {
    await sql`insert into assignments (host, channel, sequence, assigned_at, fetched_at) select h, ${channel}, ${sequence}::bigint, ${now}::bigint, null::bigint from unnest(${unique}::text[]) as h ${upsert}`.execute(trx);
  } else {
    // `where true`: SQLite's grammar needs it between a SELECT and ON CONFLICT.
    await sql`insert into assignments (host, channel, sequence, assigned_at, fetched_at) select value, ${channel}, ${sequence}, ${now}, null from json_each(${JSON.stringify(unique)}) where true ${upsert}`.execute(trx);
  }
}

/**
 * Moves one rollout as far as it can go now. Returns the change topics to publish (the channel
 * when hosts got a new manifest), so waiting agents hear of it at once.
 */
export async function advance(db: Kysely<Database>, id: string, now = Date.now()): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    const changed = new Set<string>();
    for (let guard = 0; guard < 1000; guard++) {
      const r = await trx.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst();
      if (!r || r.state !== "running") break;
      const wave = await trx.selectFrom("waves").selectAll().where("rollout_id", "=", id).where("idx", "=", r.current_wave).executeTakeFirst();
      if (!wave) {
        await trx.updateTable("rollouts").set({ state: "done", updated_at: now }).where("id", "=", id).execute();
        await trx.updateTable("releases").set({ state: "complete" }).where("channel", "=", r.channel).where("sequence", "=", r.sequence).execute();
        changed.add(`channel:${r.channel}`);
        break;
      }
      const hosts = JSON.parse(wave.hosts) as string[];
      if (wave.state === "pending") {
        await assign(trx, hosts, r.channel, r.sequence, now);
        await trx.updateTable("waves").set({ state: "active", started_at: now }).where("rollout_id", "=", id).where("idx", "=", wave.idx).execute();
        changed.add(`channel:${r.channel}`);
        continue;
      }
      const started = await trx.selectFrom("waves").select(["hosts", "started_at", "state"]).where("rollout_id", "=", id).where("state", "!=", "pending").execute();
      const reached = started.flatMap((w) => JSON.parse(w.hosts) as string[]);
      const seen = await reported(trx, r.channel, r.sequence, reached, false);
      // Silence past the timeout is a failure: a canary that died before reporting must halt the rollout, not hang it.
      const silent =
        r.wave_timeout_ms > 0
          ? started.filter((w) => w.state === "active" && w.started_at !== null && now - w.started_at >= r.wave_timeout_ms).flatMap((w) => (JSON.parse(w.hosts) as string[]).filter((h) => seen.get(h)?.status !== "ok" && seen.get(h)?.status !== "failed"))
          : [];
      const failed = [...reached.filter((h) => seen.get(h)?.status === "failed"), ...silent];
      if (failed.length > r.max_failures) {
        const quiet = silent.length ? `, ${silent.length} of them silent for ${Math.round(r.wave_timeout_ms / 1000)}s` : "";
        const reason = `${failed.length} host(s) failed (${failed.slice(0, 5).join(", ")}${failed.length > 5 ? ", …" : ""}${quiet}); at most ${r.max_failures} tolerated`;
        await trx.updateTable("rollouts").set({ state: "halted", reason, updated_at: now }).where("id", "=", id).execute();
        changed.add("rollouts");
        break;
      }
      // Failures within the tolerance count as done: the wave waits only for hosts still deploying.
      const tolerated = new Set(failed);
      const healthy = hosts.every((h) => seen.get(h)?.status === "ok" || tolerated.has(h));
      if (!healthy) break;
      const healthyAt = wave.healthy_at ?? now;
      if (wave.healthy_at === null) {
        await trx.updateTable("waves").set({ state: "baking", healthy_at: now }).where("rollout_id", "=", id).where("idx", "=", wave.idx).execute();
        changed.add("rollouts");
      }
      if (now - healthyAt < r.bake_ms) break;
      await trx.updateTable("waves").set({ state: "done", finished_at: now }).where("rollout_id", "=", id).where("idx", "=", wave.idx).execute();
      await trx.updateTable("rollouts").set({ current_wave: r.current_wave + 1, updated_at: now }).where("id", "=", id).execute();
      changed.add("rollouts");
    }
    return [...changed];
  });
}

/**
 * Records that hosts fetched the release assigned to them (a rollout shows them `deploying`),
 * many hosts of one release at once: when a wave starts, 10,000 hosts fetch
 * their release within a second, and one statement for all of them (as `assign`) keeps the
 * writes from holding up the answers. Returns how many were fetched for the first time.
 */
export async function markFetchedMany(db: Kysely<Database>, hosts: readonly string[], channel: string, sequence: number, now = Date.now()): Promise<number> {
  if (hosts.length === 0) return 0;
  const r = await sql`update assignments set fetched_at = ${now} where channel = ${channel} and sequence = ${sequence} and ${oneOf(db, "host", hosts)} and fetched_at is null`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

export async function advanceAll(db: Kysely<Database>, now = Date.now()): Promise<string[]> {
  const running = await db.selectFrom("rollouts").select("id").where("state", "=", "running").execute();
  const topics = new Set<string>();
  for (const r of running) for (const t of await advance(db, r.id, now)) topics.add(t);
  return [...topics];
}

export type RolloutAction = "pause" | "resume" | "promote" | "abort";

/** An operator's action on a rollout; `by` names who (the reason says it), `record` audits it in the same transaction. */
export async function act(db: Kysely<Database>, id: string, action: RolloutAction, now = Date.now(), opts: { by?: string; record?: Recorder } = {}): Promise<string[]> {
  const by = opts.by ?? "an operator";
  const topics = await db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom("rollouts").select(["state", "current_wave"]).where("id", "=", id).executeTakeFirst();
    if (!r) throw notFound(`rollout ${id}`);
    const refuse = () => conflict("rollout-state", `rollout ${id} is ${r.state}; it cannot ${action}`);
    const set = (state: RolloutTable["state"], reason: string | null) => trx.updateTable("rollouts").set({ state, reason, updated_at: now }).where("id", "=", id).execute();
    if (action === "pause") {
      if (r.state !== "running") throw refuse();
      await set("paused", `paused by ${by}`);
    } else if (action === "resume") {
      if (r.state !== "paused" && r.state !== "halted") throw refuse();
      await set("running", null);
    } else if (action === "abort") {
      if (r.state === "done" || r.state === "aborted") throw refuse();
      await set("aborted", `aborted by ${by}`);
    } else {
      // Promote: the current wave counts as done now, whatever its reports or bake time say.
      if (r.state !== "running" && r.state !== "paused") throw refuse();
      await trx.updateTable("waves").set({ state: "done", finished_at: now }).where("rollout_id", "=", id).where("idx", "=", r.current_wave).execute();
      await trx.updateTable("rollouts").set({ state: "running", reason: null, current_wave: r.current_wave + 1, updated_at: now }).where("id", "=", id).execute();
    }
    await opts.record?.(trx);
    return ["rollouts"];
  });
  return [...topics, ...(await advance(db, id, now))];
}

export async function getRollout(db: Kysely<Database>, id: string, now = Date.now()): Promise<RolloutView> {
  const r = await db.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst();
  if (!r) throw notFound(`rollout ${id}`);
  const waves = await db.selectFrom("waves").selectAll().where("rollout_id", "=", id).orderBy("idx").execute();
  const everyone = waves.flatMap((w) => JSON.parse(w.hosts) as string[]);
  const seen = await reported(db, r.channel, r.sequence, everyone, true);
  const fetched = new Map(
    // Only the fetched matter (the rest show `assigned`): none yet at a rollout's start.
    (await db.selectFrom("assignments").select(["host", "fetched_at"]).where("channel", "=", r.channel).where("sequence", "=", r.sequence).where("fetched_at", "is not", null).execute()).map((a) => [a.host, a.fetched_at]),
  );
  const release = await db.selectFrom("releases").select("version").where("channel", "=", r.channel).where("sequence", "=", r.sequence).executeTakeFirst();
  return {
    ...r,
    version: release?.version ?? null,
    waves: waves.map((w) => {
      const hosts = JSON.parse(w.hosts) as string[];
      const of = (s: string) => (w.state === "pending" ? [] : hosts.filter((h) => seen.get(h)?.status === s));
      const healthy = of("ok");
      const failed = of("failed");
      const silentSince = w.state === "active" && w.started_at !== null && r.wave_timeout_ms > 0 && now - w.started_at >= r.wave_timeout_ms ? w.started_at + r.wave_timeout_ms : null;
      const progress = hosts.map((host): HostProgress => {
        if (w.state === "pending") return { host, state: "waiting", at: null, reason: null };
        const rep = seen.get(host);
        if (rep?.status === "ok") return { host, state: "ok", at: rep.at, reason: null };
        if (rep?.status === "failed") return { host, state: "failed", at: rep.at, reason: rep.reason };
        if (silentSince !== null) return { host, state: "failed", at: silentSince, reason: `no report ${Math.round(r.wave_timeout_ms / 1000)}s after its wave started` };
        const f = fetched.get(host);
        return f ? { host, state: "deploying", at: f, reason: null } : { host, state: "assigned", at: w.started_at, reason: null };
      });
      // By lookup, not by searching the lists: a wave of 10,000 hosts is 10^8 comparisons otherwise.
      const done = new Set([...healthy, ...failed]);
      return {
        idx: w.idx,
        name: w.name,
        state: w.state,
        hosts,
        healthy,
        failed,
        pending: hosts.filter((h) => !done.has(h)),
        startedAt: w.started_at,
        healthyAt: w.healthy_at,
        finishedAt: w.finished_at,
        bakeEndsAt: w.state === "baking" && w.healthy_at !== null ? w.healthy_at + r.bake_ms : null,
        progress,
      };
    }),
  };
}

export async function listRollouts(db: Kysely<Database>, limit = 50, now = Date.now()): Promise<RolloutView[]> {
  const rows = await db.selectFrom("rollouts").select("id").orderBy("created_at", "desc").limit(Math.min(Math.max(limit, 1), 200)).execute();
  return Promise.all(rows.map((r) => getRollout(db, r.id, now)));
}
