import { afterAll, describe, expect, it } from "vitest";
import { PostgresNotifier } from "../../../src/server/notify.js";
import { newDbSpec, stopTestPostgres } from "../../harness/control-server.js";

/**
 * Notices between server processes on one PostgreSQL: each process hears every notice once, its
 * own included (at once, from publish; its echo through LISTEN is not a second notice, which
 * would make every waiting long-poll look again).
 */
afterAll(() => stopTestPostgres());

const settle = () => new Promise((r) => setTimeout(r, 400));

describe("PostgreSQL change notices", () => {
  it("every process hears each notice once, the publisher included", async () => {
    const { spec } = await newDbSpec("postgres");
    const a = new PostgresNotifier(spec);
    const b = new PostgresNotifier(spec);
    await a.start();
    await b.start();
    const heard = { a: [] as string[], b: [] as string[] };
    a.subscribe((t) => heard.a.push(t));
    b.subscribe((t) => heard.b.push(t));
    try {
      await a.publish("channel:main");
      await a.publish("rollouts");
      await b.publish("channel:edge");
      await settle();
      expect(heard.a).toEqual(["channel:main", "rollouts", "channel:edge"]);
      expect(heard.b.sort()).toEqual(["channel:edge", "channel:main", "rollouts"]);
      // Many at once (the pool's two connections both in use) are still each heard once.
      await Promise.all(Array.from({ length: 20 }, (_, i) => a.publish(`t${i}`)));
      await settle();
      expect(heard.a.filter((t) => t.startsWith("t")).length).toBe(20);
      expect(new Set(heard.b.filter((t) => t.startsWith("t"))).size).toBe(20);
      expect(heard.b.filter((t) => t.startsWith("t")).length).toBe(20);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
