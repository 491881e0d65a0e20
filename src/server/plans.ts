import type { Kysely } from "kysely";
import type { Database } from "./db/schema.js";
import type { Recorder } from "./recorder.js";
import { parsePlan, type RolloutPlan } from "./rollout-plan.js";

/**
 * Each channel's rollout plan (oscd.toml's `[channels.<name>.rollout]`), kept by the server so
 * a rollout started without waves (`oscd rollout start main`, the dashboard's form) uses it.
 * It arrives with `oscd publish --server` (read from the published commit), from
 * `oscd server --fleet DIR` at start, or through the API. A plan is timing, never content:
 * it only decides when hosts are served a manifest that is signed anyway.
 */
export interface ChannelPlan {
  channel: string;
  plan: RolloutPlan;
  source: string;
  updatedAt: number;
}

export async function getPlan(db: Kysely<Database>, channel: string): Promise<ChannelPlan | undefined> {
  const row = await db.selectFrom("channel_plans").selectAll().where("channel", "=", channel).executeTakeFirst();
  if (!row) return undefined;
  return { channel, plan: JSON.parse(row.plan) as RolloutPlan, source: row.source, updatedAt: row.updated_at };
}

export async function setPlan(db: Kysely<Database>, channel: string, raw: unknown, source: string, now = Date.now(), record?: (p: RolloutPlan) => Recorder): Promise<ChannelPlan> {
  const plan = parsePlan(raw);
  const row = { channel, plan: JSON.stringify(plan), source: source.slice(0, 200), updated_at: now };
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto("channel_plans")
      .values(row)
      .onConflict((oc) => oc.column("channel").doUpdateSet({ plan: row.plan, source: row.source, updated_at: now }))
      .execute();
    await record?.(plan)(trx);
  });
  return { channel, plan, source: row.source, updatedAt: now };
}
