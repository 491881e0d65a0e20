import { randomBytes } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import type { Database, RolloutTable, WaveTable } from "./db/schema.js";
import { conflict, HttpError, notFound } from "./errors.js";
import { releaseHosts } from "./releases.js";
import { foldStatus } from "./reports.js";
import { parseRolloutSpec, planWaves } from "./rollout-plan.js";

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
}

export interface RolloutView extends RolloutTable {
  waves: WaveProgress[];
}

type Db = Kysely<Database> | Transaction<Database>;

const ACTIVE: RolloutTable["state"][] = ["running", "paused"];

export async function createRollout(db: Kysely<Database>, raw: unknown, now = Date.now()): Promise<{ id: string; changed: string[] }> {
  const spec = parseRolloutSpec(raw);
  const id = randomBytes(8).toString("hex");
  await db.transaction().execute(async (trx) => {
    const release = await trx.selectFrom("releases").select(["body", "state"]).where("channel", "=", spec.channel).where("sequence", "=", spec.sequence).executeTakeFirst();
    if (!release) throw notFound(`release ${spec.channel} #${spec.sequence}`);
    const base = await trx.selectFrom("releases").select("sequence").where("channel", "=", spec.channel).where("state", "=", "complete").orderBy("sequence", "desc").limit(1).executeTakeFirst();
    if (base && base.sequence >= spec.sequence) throw conflict("rollout-stale", `channel ${spec.channel} already serves release #${base.sequence} to every host; #${spec.sequence} is not newer`);
    const busy = await trx.selectFrom("rollouts").select(["id", "state"]).where("channel", "=", spec.channel).where("state", "in", ACTIVE).executeTakeFirst();
    if (busy) throw conflict("rollout-busy", `channel ${spec.channel} has rollout ${busy.id} ${busy.state}; abort it first`);
    // A halted rollout stays for the record; the new one (usually a revert) supersedes it.
    await trx.updateTable("rollouts").set({ state: "aborted", reason: `superseded by rollout ${id}`, updated_at: now }).where("channel", "=", spec.channel).where("state", "=", "halted").execute();
    const hostRows = await trx.selectFrom("hosts").select(["name", "tags"]).execute();
    const tags = new Map(hostRows.map((h) => [h.name, JSON.parse(h.tags) as string[]]));
    const waves = planWaves(releaseHosts(release.body), (h) => tags.get(h) ?? [], spec);
    if (waves.length === 0) throw new HttpError(400, "bad-rollout", `release ${spec.channel} #${spec.sequence} names no hosts`);
    await trx
      .insertInto("rollouts")
      .values({ id, channel: spec.channel, sequence: spec.sequence, state: "running", max_failures: spec.maxFailures, bake_ms: Math.round(spec.bakeSeconds * 1000), wave_timeout_ms: Math.round(spec.waveTimeoutSeconds * 1000), current_wave: 0, reason: null, created_at: now, updated_at: now })
      .execute();
    await trx
      .insertInto("waves")
      .values(waves.map((w, idx) => ({ rollout_id: id, idx, name: w.name, hosts: JSON.stringify(w.hosts), state: "pending" as const, started_at: null, healthy_at: null, finished_at: null })))
      .execute();
  });
  const changed = await advance(db, id, now);
  return { id, changed };
}

/**
 * Latest outcome per host for one release, from the reports: one query over the release's
 * reports (index reports_release), filtered here; a wave of 10,000 hosts would otherwise be
 * 20 queries of 500 parameters each, several times a second while reports arrive.
 */
async function outcomes(db: Db, channel: string, sequence: number, hosts: readonly string[]): Promise<Map<string, "ok" | "failed" | "deploying" | "unknown">> {
  const out = new Map<string, "ok" | "failed" | "deploying" | "unknown">();
  if (hosts.length === 0) return out;
  const wanted = new Set(hosts);
  const rows = await db.selectFrom("reports").select(["host", "status"]).where("channel", "=", channel).where("sequence", "=", sequence).where("kind", "=", "report").orderBy("received_at").execute();
  for (const r of rows) if (wanted.has(r.host)) out.set(r.host, foldStatus(r.status));
  return out;
}

/** Assignments in batches (one statement per 500 hosts, not one per host). */
async function assign(trx: Transaction<Database>, hosts: readonly string[], channel: string, sequence: number, now: number): Promise<void> {
  for (let i = 0; i < hosts.length; i += 500) {
    await trx
      .insertInto("assignments")
      .values(hosts.slice(i, i + 500).map((host) => ({ host, channel, sequence, assigned_at: now })))
      .onConflict((oc) => oc.columns(["host", "channel"]).doUpdateSet((eb) => ({ sequence: eb.ref("excluded.sequence"), assigned_at: eb.ref("excluded.assigned_at") })))
      .execute();
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
      const seen = await outcomes(trx, r.channel, r.sequence, reached);
      // Silence past the timeout is a failure: a canary that died before reporting must halt the rollout, not hang it.
      const silent =
        r.wave_timeout_ms > 0
          ? started.filter((w) => w.state === "active" && w.started_at !== null && now - w.started_at >= r.wave_timeout_ms).flatMap((w) => (JSON.parse(w.hosts) as string[]).filter((h) => seen.get(h) !== "ok" && seen.get(h) !== "failed"))
          : [];
      const failed = [...reached.filter((h) => seen.get(h) === "failed"), ...silent];
      if (failed.length > r.max_failures) {
        const quiet = silent.length ? `, ${silent.length} of them silent for ${Math.round(r.wave_timeout_ms / 1000)}s` : "";
        const reason = `${failed.length} host(s) failed (${failed.slice(0, 5).join(", ")}${failed.length > 5 ? ", …" : ""}${quiet}); at most ${r.max_failures} tolerated`;
        await trx.updateTable("rollouts").set({ state: "halted", reason, updated_at: now }).where("id", "=", id).execute();
        changed.add("rollouts");
        break;
      }
      // Failures within the tolerance count as done: the wave waits only for hosts still deploying.
      const tolerated = new Set(failed);
      const healthy = hosts.every((h) => seen.get(h) === "ok" || tolerated.has(h));
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

/** Advances every running rollout (the timer's job). */
export async function advanceAll(db: Kysely<Database>, now = Date.now()): Promise<string[]> {
  const running = await db.selectFrom("rollouts").select("id").where("state", "=", "running").execute();
  const topics = new Set<string>();
  for (const r of running) for (const t of await advance(db, r.id, now)) topics.add(t);
  return [...topics];
}

export type RolloutAction = "pause" | "resume" | "promote" | "abort";

export async function act(db: Kysely<Database>, id: string, action: RolloutAction, now = Date.now()): Promise<string[]> {
  const topics = await db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom("rollouts").select(["state", "current_wave"]).where("id", "=", id).executeTakeFirst();
    if (!r) throw notFound(`rollout ${id}`);
    const refuse = () => conflict("rollout-state", `rollout ${id} is ${r.state}; it cannot ${action}`);
    const set = (state: RolloutTable["state"], reason: string | null) => trx.updateTable("rollouts").set({ state, reason, updated_at: now }).where("id", "=", id).execute();
    if (action === "pause") {
      if (r.state !== "running") throw refuse();
      await set("paused", "paused by an operator");
    } else if (action === "resume") {
      if (r.state !== "paused" && r.state !== "halted") throw refuse();
      await set("running", null);
    } else if (action === "abort") {
      if (r.state === "done" || r.state === "aborted") throw refuse();
      await set("aborted", "aborted by an operator");
    } else {
      // Promote: the current wave counts as done now, whatever its reports or bake time say.
      if (r.state !== "running" && r.state !== "paused") throw refuse();
      await trx.updateTable("waves").set({ state: "done", finished_at: now }).where("rollout_id", "=", id).where("idx", "=", r.current_wave).execute();
      await trx.updateTable("rollouts").set({ state: "running", reason: null, current_wave: r.current_wave + 1, updated_at: now }).where("id", "=", id).execute();
    }
    return ["rollouts"];
  });
  return [...topics, ...(await advance(db, id, now))];
}

export async function getRollout(db: Kysely<Database>, id: string): Promise<RolloutView> {
  const r = await db.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst();
  if (!r) throw notFound(`rollout ${id}`);
  const waves = await db.selectFrom("waves").selectAll().where("rollout_id", "=", id).orderBy("idx").execute();
  const everyone = waves.flatMap((w) => JSON.parse(w.hosts) as string[]);
  const seen = await outcomes(db, r.channel, r.sequence, everyone);
  return {
    ...r,
    waves: waves.map((w) => {
      const hosts = JSON.parse(w.hosts) as string[];
      const of = (s: string) => (w.state === "pending" ? [] : hosts.filter((h) => seen.get(h) === s));
      const healthy = of("ok");
      const failed = of("failed");
      // By lookup, not by searching the lists: a wave of 10,000 hosts is 10^8 comparisons otherwise.
      const done = new Set([...healthy, ...failed]);
      return { idx: w.idx, name: w.name, state: w.state, hosts, healthy, failed, pending: hosts.filter((h) => !done.has(h)), startedAt: w.started_at, healthyAt: w.healthy_at, finishedAt: w.finished_at };
    }),
  };
}

export async function listRollouts(db: Kysely<Database>, limit = 50): Promise<RolloutView[]> {
  const rows = await db.selectFrom("rollouts").select("id").orderBy("created_at", "desc").limit(limit).execute();
  return Promise.all(rows.map((r) => getRollout(db, r.id)));
}
