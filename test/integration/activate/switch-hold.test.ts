import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureHold, holdTaken, openHold, SwitchRunningError, waitForSwitchToEnd } from "../../../src/activate/switch-hold.js";
import { run } from "../../../src/core/exec.js";
import { closeSync } from "node:fs";

const WORKER = join(import.meta.dirname, "switch-worker.ts");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-switch-hold-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A toplevel whose switch-to-configuration appends `start NAME` and `end NAME` to the shared
 * log, and in between waits for `gate` to exist (a slow switch, released by the test), silently:
 * like a real switch whose caller is gone, it must not die writing to a closed pipe.
 */
async function toplevel(name: string, log: string, gate?: string): Promise<string> {
  const top = join(dir, name);
  await mkdir(join(top, "bin"), { recursive: true });
  const wait = gate ? `while [ ! -e ${gate} ]; do sleep 0.05; done\n` : "";
  await writeFile(join(top, "bin", "switch-to-configuration"), `#!/bin/sh\necho "start ${name}" >> ${log}\n${wait}echo "end ${name}" >> ${log}\n`, { mode: 0o755 });
  return top;
}

async function until(what: string, f: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const text = (p: string) => readFile(p, "utf8").catch(() => "");

describe("the switch holds what keeps a second switch out", () => {
  it("is free when missing or unheld, taken while a descriptor of it is open", async () => {
    const hold = join(dir, "state", "switch.fifo");
    expect(holdTaken(hold)).toBe(false);
    await ensureHold(hold);
    await ensureHold(hold);
    expect(holdTaken(hold)).toBe(false);
    const fd = openHold(hold);
    expect(holdTaken(hold)).toBe(true);
    await expect(waitForSwitchToEnd(hold, { timeoutMs: 100, pollMs: 20 })).rejects.toBeInstanceOf(SwitchRunningError);
    closeSync(fd);
    expect(holdTaken(hold)).toBe(false);
    await waitForSwitchToEnd(hold, { timeoutMs: 0 });
  });

  it("replaces a file or a link planted at its path by a FIFO", async () => {
    const hold = join(dir, "planted.fifo");
    await writeFile(join(dir, "target"), "keep");
    await run("ln", ["-s", join(dir, "target"), hold], { timeoutMs: 10_000 });
    await ensureHold(hold);
    expect(holdTaken(hold)).toBe(false);
    expect(await readFile(join(dir, "target"), "utf8")).toBe("keep");
    expect((await run("stat", ["-c", "%F %a", hold], { timeoutMs: 10_000 })).stdout.trim()).toBe("fifo 600");
  });

  it("a switch whose caller was killed -9 keeps the next one out until it ends: the two never overlap", async () => {
    const hold = join(dir, "kill", "switch.fifo");
    const log = join(dir, "kill.log");
    const gate = join(dir, "kill.gate");
    const slow = await toplevel("slow", log, gate);
    const next = await toplevel("next", log);
    const [pidA, pidB, linesA, linesB] = ["a.pid", "b.pid", "a.lines", "b.lines"].map((n) => join(dir, n)) as [string, string, string, string];
    const a = run("node", ["--import", "tsx", WORKER, hold, slow, pidA, linesA], { timeoutMs: 120_000 });
    await until("the slow switch to start", async () => (await text(log)).includes("start slow"));
    await run("kill", ["-KILL", (await text(pidA)).trim()], { timeoutMs: 10_000 });
    expect((await a).signal).toBe("SIGKILL");
    // Its caller is gone; the orphaned switch still holds it, and says who it is.
    expect(holdTaken(hold)).toBe(true);
    const e = await waitForSwitchToEnd(hold, { timeoutMs: 200, pollMs: 20 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SwitchRunningError);
    expect((e as SwitchRunningError).code).toBe("switch-running");
    expect((e as SwitchRunningError).exitCode).toBe(3);
    expect((e as SwitchRunningError).message).toMatch(/switch-to-configuration holding .*switch\.fifo \(pid \d+ \(.*slow\/bin\/switch-to-configuration switch\)/);
    // A second caller waits for it instead of switching beside it.
    const b = run("node", ["--import", "tsx", WORKER, hold, next, pidB, linesB], { timeoutMs: 120_000 });
    await until("the second caller to wait", async () => (await text(linesB)).includes("waiting for the switch of an interrupted deployment to end"));
    expect(await text(log)).toBe("start slow\n");
    await writeFile(gate, "");
    const rb = await b;
    expect(rb.exitCode, rb.stderr + (await text(linesB))).toBe(0);
    expect((await text(log)).trim().split("\n")).toEqual(["start slow", "end slow", "start next", "end next"]);
    expect(holdTaken(hold)).toBe(false);
  });
});
