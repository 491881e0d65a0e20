import type { Kysely } from "kysely";
import type { Database } from "./db/schema.js";
import type { Notifier } from "./notify.js";

/**
 * Which signed manifest a host is served for a channel: the release a rollout assigned to it,
 * else the channel's newest release that finished rolling out (`complete`). A host that a
 * rollout has not reached keeps being served its previous manifest.
 *
 * The answer for every host of a channel is read at once (its assignments, the releases they
 * name and the hosts' own views of those: a few queries) and kept per process until a notice says the
 * channel changed (the notifier reaches every process, PostgreSQL ones included). So an agent
 * asking "anything new?" costs no database read, and when a wave starts, the 10,000 long-polls
 * it wakes cost one read of the channel, not one each.
 */
export interface Served {
  channel: string;
  sequence: number;
  etag: string;
  body: string;
  /** `body` as UTF-8, encoded once: one buffer sent to every host that is served it. */
  bytes: Buffer;
}

/** Every host's answer for one channel, as read at one moment. */
export class ChannelView {
  constructor(
    readonly base: Served | undefined,
    private readonly assigned: ReadonlyMap<string, Served>,
    /** Per release sequence, the hosts' own signed views of it. */
    private readonly views: ReadonlyMap<number, ReadonlyMap<string, Served>> = new Map(),
  ) {}

  /**
   * Whichever release is newer (an assignment from an old rollout never holds a host below a
   * release that completed since), as the host's own view of it when publish signed one.
   */
  get(host: string): Served | undefined {
    const a = this.assigned.get(host);
    const release = a && (!this.base || a.sequence >= this.base.sequence) ? a : this.base;
    if (!release) return undefined;
    return this.views.get(release.sequence)?.get(host) ?? release;
  }
}

export class ServedCache {
  private readonly views = new Map<string, Promise<ChannelView>>();
  private readonly unsubscribe: () => void;
  /** Reads of a channel from the database so far (tests and benchmarks count them). */
  reads = 0;

  constructor(
    private readonly db: Kysely<Database>,
    notifier: Notifier,
  ) {
    // Only a channel's change can change what is served (releases completed, waves started);
    // reports and token changes arrive by the thousand and must not empty the cache.
    // A notice drops the channel's read, finished or not: a read that overlapped the change
    // may not hold it, so whoever asks next (the woken long-polls first) reads again.
    this.unsubscribe = notifier.subscribe((topic) => {
      if (topic === "*") this.views.clear();
      else if (topic.startsWith("channel:")) this.views.delete(topic.slice("channel:".length));
    });
  }

  /** Every host's answer for `channel`; concurrent callers share one read. */
  view(channel: string): Promise<ChannelView> {
    const hit = this.views.get(channel);
    if (hit) return hit;
    this.reads++;
    const p = readChannel(this.db, channel);
    if (this.views.size > 10_000) this.views.clear();
    this.views.set(channel, p);
    // A failed read (the database away) is not kept: the next caller tries again.
    p.catch(() => {
      if (this.views.get(channel) === p) this.views.delete(channel);
    });
    return p;
  }

  async get(host: string, channel: string): Promise<Served | undefined> {
    return (await this.view(channel)).get(host);
  }

  close(): void {
    this.unsubscribe();
  }
}

function served(r: { channel: string; sequence: number; etag: string; body: string }): Served {
  return { channel: r.channel, sequence: r.sequence, etag: r.etag, body: r.body, bytes: Buffer.from(r.body, "utf8") };
}

/** The channel's newest complete release and every assignment, each release body read once. */
export async function readChannel(db: Kysely<Database>, channel: string): Promise<ChannelView> {
  const base = await db.selectFrom("releases").select(["channel", "sequence", "etag", "body"]).where("channel", "=", channel).where("state", "=", "complete").orderBy("sequence", "desc").limit(1).executeTakeFirst();
  const rows = await db.selectFrom("assignments").select(["host", "sequence"]).where("channel", "=", channel).execute();
  const releases = new Map<number, Served>();
  if (base) releases.set(base.sequence, served(base));
  // An assignment below the base changes nothing (ChannelView.get): its body need not be read.
  const wanted = [...new Set(rows.map((r) => r.sequence))].filter((s) => !releases.has(s) && (!base || s > base.sequence));
  for (let i = 0; i < wanted.length; i += 100) {
    const found = await db.selectFrom("releases").select(["channel", "sequence", "etag", "body"]).where("channel", "=", channel).where("sequence", "in", wanted.slice(i, i + 100)).execute();
    for (const r of found) releases.set(r.sequence, served(r));
  }
  const assigned = new Map<string, Served>();
  for (const r of rows) {
    const s = releases.get(r.sequence);
    if (s) assigned.set(r.host, s);
  }
  const views = new Map<number, Map<string, Served>>();
  const sequences = [...releases.keys()];
  for (let i = 0; i < sequences.length; i += 100) {
    const found = await db.selectFrom("release_views").select(["sequence", "host", "etag", "body"]).where("channel", "=", channel).where("sequence", "in", sequences.slice(i, i + 100)).execute();
    for (const v of found) {
      let m = views.get(v.sequence);
      if (!m) views.set(v.sequence, (m = new Map()));
      m.set(v.host, served({ channel, ...v }));
    }
  }
  return new ChannelView(base ? releases.get(base.sequence) : undefined, assigned, views);
}

export async function servedRelease(db: Kysely<Database>, host: string, channel: string): Promise<Served | undefined> {
  return (await readChannel(db, channel)).get(host);
}
