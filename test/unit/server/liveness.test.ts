import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createToken, openDatabase, type ServerDb } from "../../../src/server/index.js";
import { Liveness } from "../../../src/server/liveness.js";

/** liveness.ts on its own: a write that fails loses nothing, and a time never goes backwards. */
let d: ServerDb;
let now = 1_000_000;
let announced = 0;
const seenAt = async (host: string) => (await d.db.selectFrom("hosts").select("last_seen").where("name", "=", host).executeTakeFirstOrThrow()).last_seen;

beforeEach(async () => {
  d = await openDatabase("sqlite::memory:");
  await createToken(d.db, { kind: "host", host: "web1" });
  now = 1_000_000;
  announced = 0;
});
afterEach(async () => {
  await d.close();
});

describe("liveness", () => {
  it("a write the database refuses is not remembered as written: the host's next request writes it", async () => {
    const l = new Liveness(d.db, () => now, () => announced++, 600_000, 60_000, 60_000);
    await sql`alter table hosts rename to hosts_away`.execute(d.db);
    l.seen("web1");
    await l.flush(); // refused: no throw, nothing announced
    expect(announced).toBe(0);
    await sql`alter table hosts_away rename to hosts`.execute(d.db);
    now += 1000; // well inside the once-a-minute throttle: only a failed write lets it through
    l.seen("web1");
    await l.flush();
    expect(await seenAt("web1")).toBe(now);
    expect(announced).toBe(1); // never seen before: announced
    now += 1000;
    l.seen("web1");
    await l.flush();
    expect(await seenAt("web1")).toBe(now - 1000); // written a second ago: not again
  });

  it("never moves last_seen backwards (a report wrote a later time meanwhile)", async () => {
    const l = new Liveness(d.db, () => now, () => announced++, 600_000, 60_000, 60_000);
    await d.db.updateTable("hosts").set({ last_seen: now + 5000 }).where("name", "=", "web1").execute();
    l.seen("web1");
    await l.flush();
    expect(await seenAt("web1")).toBe(now + 5000);
    expect(announced).toBe(0);
  });

  it("writes every host of a large batch (one parameter, not 500 at a time), and only the ones due", async () => {
    const names = Array.from({ length: 1200 }, (_, i) => `h${String(i).padStart(4, "0")}`);
    for (const host of names) await createToken(d.db, { kind: "host", host });
    await d.db.updateTable("hosts").set({ last_seen: now - 1000 }).where("name", "in", names.slice(0, 100)).execute(); // 100 still online
    let statements = 0;
    const counted = d.db.withPlugin({ transformQuery: (a) => (statements++, a.node), transformResult: async (a) => a.result });
    const l = new Liveness(counted, () => now, () => announced++, 600_000, 60_000, 60_000);
    for (const host of names) l.seen(host);
    l.seen("nobody"); // a name with no host row: nothing written, nothing breaks
    await l.flush();
    const rows = await d.db.selectFrom("hosts").select(["name", "last_seen"]).where("name", "in", names).execute();
    expect(rows.filter((r) => r.last_seen === now)).toHaveLength(1200);
    expect(announced).toBe(1); // 1,100 came back: one announcement
    expect(statements).toBe(2); // who was away, then the write: not three rounds of 500
    expect(await seenAt("web1")).toBeNull(); // not in the batch: untouched
  });
});
