import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireLock, BusyError } from "../../../src/activate/lock.js";
import { run } from "../../../src/core/exec.js";

const WORKER = join(import.meta.dirname, "lock-worker.ts");
const TAKERS = 20;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-lock-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited: a holder that died without releasing. */
async function deadPid(): Promise<number> {
  const r = await run("sh", ["-c", "echo $$"], { timeoutMs: 10_000 });
  return Number(r.stdout.trim());
}

/** Starts TAKERS processes that all try the lock at the same moment; returns the shared log. */
async function race(name: string, lock: string, holdMs = 2, tries = 40): Promise<string[]> {
  const log = join(dir, `${name}.log`);
  const go = join(dir, `${name}.go`);
  await writeFile(log, "");
  const takers = Array.from({ length: TAKERS }, () => run("node", ["--import", "tsx", WORKER, lock, log, go, String(holdMs), String(tries)], { timeoutMs: 120_000 }));
  // Every worker is up and polling for the start signal by the time it appears.
  await new Promise((r) => setTimeout(r, 3000));
  await writeFile(go, "");
  const results = await Promise.all(takers);
  for (const r of results) expect(r.exitCode, r.stderr).toBe(0);
  return (await readFile(log, "utf8")).trim().split("\n");
}

/** Holders never overlap: every `enter` is followed by the same process's `leave`. */
function assertExclusive(lines: string[]): number {
  let holder: string | undefined;
  let holds = 0;
  for (const l of lines) {
    const [what, pid] = l.split(" ");
    expect(what, l).not.toBe("error");
    if (what === "enter") {
      expect(holder, `${pid} entered while ${holder} held the lock:\n${lines.join("\n")}`).toBeUndefined();
      holder = pid;
      holds++;
    } else if (what === "leave") {
      expect(pid).toBe(holder);
      holder = undefined;
    }
  }
  return holds;
}

describe("host lock", () => {
  it(`${TAKERS} processes started at once never hold the lock together`, async () => {
    const lock = join(dir, "free", "lock");
    const lines = await race("free", lock);
    expect(assertExclusive(lines)).toBeGreaterThanOrEqual(1);
    expect(lines).toHaveLength(lines.filter((l) => l.startsWith("busy")).length + 2 * lines.filter((l) => l.startsWith("enter")).length);
    expect(await readdir(join(dir, "free"))).toEqual([]);
  }, 120_000);

  it(`${TAKERS} processes taking over a lock left by a dead pid never hold it together`, async () => {
    for (const [name, content] of [
      ["stale", JSON.stringify({ pid: await deadPid(), startTime: "1", command: "activate switch", since: new Date().toISOString(), nonce: "deadbeef" })],
      // What a holder killed between creating the file and writing it leaves.
      ["empty", ""],
    ] as const) {
      await rm(join(dir, name), { recursive: true, force: true });
      const lock = join(dir, name, "lock");
      await run("mkdir", ["-p", join(dir, name)], { timeoutMs: 10_000 });
      await writeFile(lock, content);
      const lines = await race(name, lock);
      expect(assertExclusive(lines)).toBeGreaterThanOrEqual(1);
      expect(await readdir(join(dir, name))).toEqual([]);
    }
  }, 120_000);

  it("release removes only its own lock", async () => {
    const lock = join(dir, "own", "lock");
    const mine = await acquireLock(lock, "first");
    // Someone removed it by hand and another deployment took it.
    await rm(lock);
    const theirs = await acquireLock(lock, "second");
    await mine.release();
    const err = await acquireLock(lock, "third").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusyError);
    await theirs.release();
    const again = await acquireLock(lock, "fourth");
    expect(again.tookOverStale).toBe(false);
    await again.release();
  });

  it("a lock whose holder died is taken over and says so", async () => {
    const lock = join(dir, "dead", "lock");
    await run("mkdir", ["-p", join(dir, "dead")], { timeoutMs: 10_000 });
    await writeFile(lock, JSON.stringify({ pid: await deadPid(), startTime: "1", command: "upgrade", since: "2020-01-01T00:00:00Z" }));
    const l = await acquireLock(lock, "after a crash");
    expect(l.tookOverStale).toBe(true);
    await l.release();
    expect(await readdir(join(dir, "dead"))).toEqual([]);
  });

  it("a lock file a power loss left empty or torn (it is not flushed) is taken over, and a live holder's never is", async () => {
    for (const [name, content] of [["empty", ""], ["torn", '{"pid": 12']] as const) {
      const d = join(dir, name);
      await run("mkdir", ["-p", d], { timeoutMs: 10_000 });
      await writeFile(join(d, "lock"), content);
      const l = await acquireLock(join(d, "lock"), "after a power loss");
      expect(l.tookOverStale).toBe(true);
      // The file now names this holder, complete: a second taker is refused, not let in.
      await expect(acquireLock(join(d, "lock"), "second")).rejects.toBeInstanceOf(BusyError);
      await l.release();
      expect(await readdir(d)).toEqual([]);
    }
  });

  it("a taker that died in the middle of a takeover does not block the lock forever", async () => {
    const d = join(dir, "claimed");
    await run("mkdir", ["-p", d], { timeoutMs: 10_000 });
    const stale = { pid: await deadPid(), startTime: "1", command: "upgrade", since: "2020-01-01T00:00:00Z", nonce: "a".repeat(32) };
    const claimant = { pid: await deadPid(), startTime: "1", command: "activate", since: "2020-01-01T00:00:01Z", nonce: "b".repeat(32) };
    await writeFile(join(d, "lock"), JSON.stringify(stale));
    await writeFile(join(d, `.lock.stale-${stale.nonce}`), JSON.stringify(claimant));
    await writeFile(join(d, `.lock.${claimant.nonce}.tmp`), JSON.stringify(claimant));
    const l = await acquireLock(join(d, "lock"), "after two crashes");
    expect(l.tookOverStale).toBe(true);
    expect(await readdir(d)).toEqual(["lock"]);
    await l.release();
    expect(await readdir(d)).toEqual([]);
  });
});
