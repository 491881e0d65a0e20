import { describe, expect, it } from "vitest";
import { ReportBatch } from "../../../src/server/report-batch.js";
import type { ReportStore } from "../../../src/server/report-stores.js";

/** A transaction that logs its statements; the records are the items themselves. */
function fakeTransaction(log: string[], failCommit = false) {
  return async (work: (tx: { exec(s: string): Promise<unknown>; store: ReportStore }) => Promise<void>) => {
    log.push("begin");
    await work({ exec: async (s) => log.push(s), store: {} as ReportStore });
    if (failCommit) throw new Error("the connection was lost");
    log.push("commit");
  };
}

describe("reports written in batches", () => {
  it("writes a batch in one transaction, in order of arrival, and answers each report its own outcome", async () => {
    const log: string[] = [];
    const written: string[] = [];
    const batch = new ReportBatch<{ host: string; id: string }, string>(
      fakeTransaction(log),
      async (_store, it) => {
        written.push(`${it.host}/${it.id}`);
        if (it.id === "bad") throw new Error(`refused ${it.host}`);
        return `stored ${it.host}/${it.id}`;
      },
    );
    const answers = await Promise.allSettled([
      batch.add({ host: "web2", id: "1" }),
      batch.add({ host: "db1", id: "1" }),
      batch.add({ host: "web2", id: "2" }),
      batch.add({ host: "app1", id: "bad" }),
    ]);
    expect(written).toEqual(["web2/1", "db1/1", "web2/2", "app1/bad"]);
    expect(answers.map((a) => (a.status === "fulfilled" ? a.value : (a.reason as Error).message))).toEqual(["stored web2/1", "stored db1/1", "stored web2/2", "refused app1"]);
    // One transaction; the refused report's savepoint is rolled back, the others' released.
    expect(log.filter((s) => s === "begin")).toHaveLength(1);
    expect(log.filter((s) => s === "rollback to savepoint report")).toHaveLength(1);
    expect(log.filter((s) => s === "release savepoint report")).toHaveLength(4);
    expect(log.at(-1)).toBe("commit");
  });

  it("a batch that cannot commit answers every report of it with the error", async () => {
    const batch = new ReportBatch<string, string>(fakeTransaction([], true), async (_s, it) => it);
    const answers = await Promise.allSettled([batch.add("a"), batch.add("b")]);
    expect(answers.map((a) => a.status)).toEqual(["rejected", "rejected"]);
    expect(answers.map((a) => (a as PromiseRejectedResult).reason.message)).toEqual(["the connection was lost", "the connection was lost"]);
  });
});
