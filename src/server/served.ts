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

export class ServedCache {
  private readonly cache = new Map<string, Served | null>();
  private generation = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly db: Kysely<Database>,
    notifier: Notifier,
  ) {
    // Only a channel's change can change what is served (releases completed, waves started);
    // reports and token changes arrive by the thousand and must not empty the cache.
    this.unsubscribe = notifier.subscribe((topic) => {
      if (!topic.startsWith("channel:") && topic !== "*") return;
      this.generation++;
      this.cache.clear();
    });
  }

  async get(host: string, channel: string): Promise<Served | undefined> {
    const key = `${host}\u0000${channel}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const gen = this.generation;
    const found = await servedRelease(this.db, host, channel);
    // A change that arrived during the read may not be in it: do not cache a possibly stale answer.
    if (gen === this.generation) {
      if (this.cache.size > 100_000) this.cache.clear();
      this.cache.set(key, found ?? null);
    }
    return found;
  }

  close(): void {
    this.unsubscribe();
  }
}

export async function servedRelease(db: Kysely<Database>, host: string, channel: string): Promise<Served | undefined> {
  const assigned = await db
    .selectFrom("assignments")
    .innerJoin("releases", (j) => j.onRef("releases.channel", "=", "assignments.channel").onRef("releases.sequence", "=", "assignments.sequence"))
    .select(["releases.channel", "releases.sequence", "releases.etag", "releases.body"])
    .where("assignments.host", "=", host)
    .where("assignments.channel", "=", channel)
    .executeTakeFirst();
  const base = await db
    .selectFrom("releases")
    .select(["channel", "sequence", "etag", "body"])
    .where("channel", "=", channel)
    .where("state", "=", "complete")
    .orderBy("sequence", "desc")
    .limit(1)
    .executeTakeFirst();
  // Whichever is newer: an assignment from an old rollout never holds a host below a release that completed since.
  if (assigned && (!base || assigned.sequence >= base.sequence)) return assigned;
  return base ?? undefined;
}
