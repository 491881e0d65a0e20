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
  private readonly releases = new ReleaseCache();
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
    const p = readChannel(this.db, channel, this.releases);
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

/** A release as served: the whole manifest, and each host's own view of it (by host). */
interface ReleaseData {
  release: Served;
  views: ReadonlyMap<string, Served>;
}

/**
 * Releases and their views, kept across channel reads: both are immutable once stored (a
 * release's bytes never change; views are only ever added, so their count tells a stale entry).
 * A wave starting then costs reading the channel's assignments, not 10,000 views again.
 */
export class ReleaseCache {
  private readonly map = new Map<string, ReleaseData>();

  async get(db: Kysely<Database>, row: { channel: string; sequence: number; etag: string }): Promise<ReleaseData | undefined> {
    const count = await db.selectFrom("release_views").select((eb) => eb.fn.countAll<number>().as("n")).where("channel", "=", row.channel).where("sequence", "=", row.sequence).executeTakeFirst();
    const key = `${row.channel}\u0000${row.sequence}\u0000${row.etag}\u0000${Number(count?.n ?? 0)}`;
    const hit = this.map.get(key);
    if (hit) return hit;
    const data = await readRelease(db, row.channel, row.sequence);
    if (!data) return undefined;
    // Old entries of the same release (fewer views) go; a bound keeps a long-lived server small.
    for (const k of this.map.keys()) if (k.startsWith(`${row.channel}\u0000${row.sequence}\u0000`)) this.map.delete(k);
    if (this.map.size >= 16) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, data);
    return data;
  }
}

async function readRelease(db: Kysely<Database>, channel: string, sequence: number): Promise<ReleaseData | undefined> {
  const r = await db.selectFrom("releases").select(["channel", "sequence", "etag", "body"]).where("channel", "=", channel).where("sequence", "=", sequence).executeTakeFirst();
  if (!r) return undefined;
  const views = new Map<string, Served>();
  for (const v of await db.selectFrom("release_views").select(["host", "etag", "body"]).where("channel", "=", channel).where("sequence", "=", sequence).execute()) {
    views.set(v.host, served({ channel, sequence, etag: v.etag, body: v.body }));
  }
  return { release: served(r), views };
}

/**
 * The channel's newest complete release and every assignment: each release (with its views)
 * read once, or taken from `cache` when it holds it.
 */
export async function readChannel(db: Kysely<Database>, channel: string, cache = new ReleaseCache()): Promise<ChannelView> {
  const base = await db.selectFrom("releases").select(["channel", "sequence", "etag"]).where("channel", "=", channel).where("state", "=", "complete").orderBy("sequence", "desc").limit(1).executeTakeFirst();
  const rows = await db.selectFrom("assignments").select(["host", "sequence"]).where("channel", "=", channel).execute();
  // An assignment below the base changes nothing (ChannelView.get): its release need not be read.
  const wanted = [...new Set(rows.map((r) => r.sequence))].filter((s) => !base || s > base.sequence);
  const data = new Map<number, ReleaseData>();
  const heads = base ? [base] : [];
  for (let i = 0; i < wanted.length; i += 100) heads.push(...(await db.selectFrom("releases").select(["channel", "sequence", "etag"]).where("channel", "=", channel).where("sequence", "in", wanted.slice(i, i + 100)).execute()));
  for (const h of heads) {
    const d = await cache.get(db, h);
    if (d) data.set(h.sequence, d);
  }
  const assigned = new Map<string, Served>();
  for (const r of rows) {
    const d = data.get(r.sequence);
    if (d) assigned.set(r.host, d.release);
  }
  const views = new Map<number, ReadonlyMap<string, Served>>();
  for (const [seq, d] of data) if (d.views.size > 0) views.set(seq, d.views);
  return new ChannelView(base ? data.get(base.sequence)?.release : undefined, assigned, views);
}

export async function servedRelease(db: Kysely<Database>, host: string, channel: string): Promise<Served | undefined> {
  return (await readChannel(db, channel)).get(host);
}
