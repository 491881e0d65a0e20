import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type ServerDb } from "../../../src/server/index.js";
import { enqueueJob, JOB_DEADLINE_MS, reapInterruptedJobs, runNextJob } from "../../../src/server/jobs.js";

/** The job queue on an in-memory SQLite database: run once, logs kept, interrupted jobs failed not repeated. */
let d: ServerDb;
beforeEach(async () => {
  d = await openDatabase("sqlite::memory:");
});
afterEach(async () => {
  await d.close();
});

describe("jobs", () => {
  it("queues a job once per key and runs it once; a successful release queues its publish", async () => {
    const runs: string[] = [];
    const runner = async (j: { kind: string }) => (runs.push(j.kind), { ok: true, log: `ran ${j.kind}` });
    expect((await enqueueJob(d.db, "release", {}, "k1")).duplicate).toBe(false);
    expect((await enqueueJob(d.db, "release", {}, "k1")).duplicate).toBe(true);
    while (await runNextJob(d.db, runner, async () => "")) {
      // until the queue is empty
    }
    expect(runs).toEqual(["release", "publish"]);
    const jobs = await d.db.selectFrom("jobs").select(["kind", "state", "log"]).orderBy("created_at").execute();
    expect(jobs.map((j) => [j.kind, j.state, j.log])).toEqual([
      ["release", "done", "ran release"],
      ["publish", "done", "ran publish"],
    ]);
  });

  it("marks a job its server died running as failed after the deadline, and never runs it again", async () => {
    const { id } = await enqueueJob(d.db, "publish", {}, "k2", 1000);
    await d.db.updateTable("jobs").set({ state: "running", started_at: 1000, log: "started" }).where("id", "=", id).execute();
    expect(await reapInterruptedJobs(d.db, 1000 + JOB_DEADLINE_MS - 1)).toBe(0);
    expect(await reapInterruptedJobs(d.db, 1000 + JOB_DEADLINE_MS + 1)).toBe(1);
    const j = await d.db.selectFrom("jobs").select(["state", "log"]).where("id", "=", id).executeTakeFirstOrThrow();
    expect(j.state).toBe("failed");
    expect(j.log).toMatch(/^started\ninterrupted: /);
    expect(await runNextJob(d.db, async () => ({ ok: true, log: "" }), async () => "")).toBe(false);
  });
});
