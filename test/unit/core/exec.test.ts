import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { CommandCancelledError, CommandTimeoutError } from "../../../src/core/errors.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, tries = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describe("run: timeouts end what they time out", () => {
  it(
    "a grandchild holding the pipes is killed with its group, and the call settles long before its sleep would end",
    async () => {
      // sh prints the pid of its background sleep, then waits on it: the sleep holds stdout and stderr.
      let grandchild = 0;
      const err = await run("sh", ["-c", "sleep 30 & echo $! >&2; wait"], {
        timeoutMs: 500,
        onStderrLine: (l) => {
          if (/^\d+$/.test(l)) grandchild = Number(l);
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandTimeoutError);
      expect(grandchild).toBeGreaterThan(0);
      // Settled: the test-level timeout (10 s) is far below the sleep's 30 s.
      expect(await until(() => !alive(grandchild))).toBe(true);
    },
    10_000,
  );

  it(
    "a grandchild that ignores SIGTERM is killed too, and the call still settles",
    async () => {
      let grandchild = 0;
      const err = await run("sh", ["-c", "sh -c 'trap \"\" TERM; echo $$ >&2; sleep 30' & trap '' TERM; wait"], {
        timeoutMs: 500,
        onStderrLine: (l) => {
          if (/^\d+$/.test(l)) grandchild = Number(l);
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandTimeoutError);
      expect(grandchild).toBeGreaterThan(0);
      expect(await until(() => !alive(grandchild))).toBe(true);
    },
    10_000,
  );

  it(
    "a command that exits normally but leaves a descendant holding its pipes still returns",
    async () => {
      let grandchild = 0;
      const r = await run("sh", ["-c", "sleep 30 & echo $! >&2; echo done"], {
        timeoutMs: 60_000,
        onStderrLine: (l) => {
          if (/^\d+$/.test(l)) grandchild = Number(l);
        },
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe("done\n");
      expect(grandchild).toBeGreaterThan(0);
      process.kill(grandchild, "SIGKILL");
    },
    10_000,
  );

  it("keeps output and exit codes of ordinary commands", async () => {
    const r = await run("sh", ["-c", "echo out; echo err >&2; exit 3"], { timeoutMs: 10_000 });
    expect(r).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
    const withInput = await run("cat", [], { timeoutMs: 10_000, input: "hello" });
    expect(withInput.stdout).toBe("hello");
  });
});

describe("run: cancellation stops the whole process group", () => {
  it(
    "aborting the signal kills the command and what it started, and rejects as cancelled",
    async () => {
      let grandchild = 0;
      const abort = new AbortController();
      const pending = run("sh", ["-c", "sleep 30 & echo $! >&2; wait"], {
        timeoutMs: 60_000,
        signal: abort.signal,
        onStderrLine: (l) => {
          if (/^\d+$/.test(l)) {
            grandchild = Number(l);
            abort.abort();
          }
        },
      }).catch((e: unknown) => e);
      const err = await pending;
      expect(err).toBeInstanceOf(CommandCancelledError);
      expect((err as CommandCancelledError).code).toBe("command-cancelled");
      expect(grandchild).toBeGreaterThan(0);
      expect(await until(() => !alive(grandchild))).toBe(true);
    },
    10_000,
  );

  it("an already aborted signal starts nothing", async () => {
    const abort = new AbortController();
    abort.abort();
    const dir = await mkdtemp(join(tmpdir(), "oscd-exec-"));
    try {
      const err = await run("touch", [join(dir, "ran")], { timeoutMs: 10_000, signal: abort.signal }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandCancelledError);
      await expect(access(join(dir, "ran"))).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a signal aborted after the command ended changes nothing", async () => {
    const abort = new AbortController();
    const r = await run("sh", ["-c", "echo done"], { timeoutMs: 10_000, signal: abort.signal });
    abort.abort();
    expect(r).toMatchObject({ exitCode: 0, stdout: "done\n" });
  });
});
