import { describe, expect, it } from "vitest";
import { FifoLock } from "../../../src/server/db/fair-sqlite.js";
import { MIGRATIONS } from "../../../src/server/db/migrations.js";
import { openDatabase } from "../../../src/server/index.js";

describe("SQLite's connection in arrival order", () => {
  it("FifoLock hands the lock to the longest waiter, not to whoever asks at the moment it is released", async () => {
    const lock = new FifoLock();
    const order: string[] = [];
    await lock.lock();
    const b = lock.lock().then(() => order.push("B"));
    lock.unlock();
    // C asks in the same turn as the release (kysely's own lock would give it to C: it is free).
    const c = lock.lock().then(() => order.push("C"));
    await b;
    lock.unlock();
    await c;
    lock.unlock();
    expect(order).toEqual(["B", "C"]);
  });

  it("serves queries through the fair driver and releases the connection after a failing one", async () => {
    const d = await openDatabase("sqlite::memory:");
    try {
      await expect(d.db.selectFrom("nope" as never).selectAll().execute()).rejects.toThrow(/no such table/);
      const rows = await Promise.all(Array.from({ length: 50 }, () => d.db.selectFrom("oscd_migrations").select("version").execute()));
      expect(rows.every((r) => r.length === MIGRATIONS.length)).toBe(true);
    } finally {
      await d.close();
    }
  });
});
