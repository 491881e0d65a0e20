import type { Kysely } from "kysely";
import type { Database } from "./db/schema.js";
import type { Notifier } from "./notify.js";

/**
 * Which signed manifest a host is served for a channel: the release a rollout assigned to it,
 * else the channel's newest release that finished rolling out (`complete`). A host that a
 * rollout has not reached keeps being served its previous manifest.
 *
 * Answers are cached per process and the cache is dropped on every channel change notice (the
 * notifier reaches every process, PostgreSQL ones included), so the hot path of an agent
 * asking "anything new?" costs no database read.
 */
export interface Served {
  channel: string;
  sequence: number;
  etag: string;
  body: string;
}

/** One channel as served: its newest complete release, and each host's assignment. */
interface ChannelView {
  base: Served | undefined;
  assigned: Map<string, Served>;
}

export class ServedCache {
  /**
   * Per channel, one read shared by every host that asks: a wave starting wakes each of its
   * hosts' long-polls at once, and they are answered from one read of the channel (3 queries),
   * not two queries each.
   */
  private readonly channels = new Map<string, Promise<ChannelView>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly db: Kysely<Database>,
    notifier: Notifier,
  ) {
    // Only a channel's change can change what is served (releases completed, waves started);
    // reports and token changes arrive by the thousand and must not empty the cache.
    this.unsubscribe = notifier.subscribe((topic) => {
      if (topic === "*") this.channels.clear();
      else if (topic.startsWith("channel:")) this.channels.delete(topic.slice("channel:".length));
    });
  }

  async get(host: string, channel: string): Promise<Served | undefined> {
    let view = this.channels.get(channel);
    if (!view) {
      view = readChannel(this.db, channel);
      this.channels.set(channel, view);
      if (this.channels.size > 10_000) this.channels.clear();
      // A failed read is not kept: the next request reads again.
      view.catch(() => {
        if (this.channels.get(channel) === view) this.channels.delete(channel);
      });
    }
    const v = await view;
    // Whichever is newer: an assignment from an old rollout never holds a host below a release that completed since.
    const a = v.assigned.get(host);
    if (a && (!v.base || a.sequence >= v.base.sequence)) return a;
    return v.base;
  }

  close(): void {
    this.unsubscribe();
  }
}

async function readChannel(db: Kysely<Database>, channel: string): Promise<ChannelView> {
  const base = await db
    .selectFrom("releases")
    .select(["channel", "sequence", "etag", "body"])
    .where("channel", "=", channel)
    .where("state", "=", "complete")
    .orderBy("sequence", "desc")
    .limit(1)
    .executeTakeFirst();
  const rows = await db.selectFrom("assignments").select(["host", "sequence"]).where("channel", "=", channel).execute();
  const sequences = [...new Set(rows.map((r) => r.sequence))].filter((q) => !base || q >= base.sequence);
  const releases = new Map<number, Served>();
  if (sequences.length > 0) {
    const found = await db.selectFrom("releases").select(["channel", "sequence", "etag", "body"]).where("channel", "=", channel).where("sequence", "in", sequences).execute();
    for (const r of found) releases.set(r.sequence, r);
  }
  const assigned = new Map<string, Served>();
  for (const r of rows) {
    const rel = releases.get(r.sequence);
    if (rel) assigned.set(r.host, rel);
  }
  return { base: base ?? undefined, assigned };
}

/** What one host is served for a channel, read directly (no cache). */
export async function servedRelease(db: Kysely<Database>, host: string, channel: string): Promise<Served | undefined> {
  const v = await readChannel(db, channel);
  const a = v.assigned.get(host);
  if (a && (!v.base || a.sequence >= v.base.sequence)) return a;
  return v.base;
}
