import { spawn } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkSwitchLock } from "../../../src/agent/switch-lock.js";
import { waitFor } from "../../harness/index.js";

describe("switch-to-configuration's lock", () => {
  it("held by another live process is reported with its pid, at once, not waited on; free again, it passes", async () => {
    const run = await mkdtemp(join(tmpdir(), "oscd-switch-lock-"));
    const lock = join(run, "nixos", "switch-to-configuration.lock");
    await mkdir(join(run, "nixos"));
    await writeFile(lock, "");
    await expect(checkSwitchLock(run)).resolves.toBeUndefined();
    // A hung switch: flock(1) holds the lock while its child sleeps.
    const holder = spawn("flock", ["--exclusive", lock, "sleep", "30"], { stdio: "ignore", detached: true });
    try {
      let err: unknown;
      await waitFor(
        async () => {
          err = await checkSwitchLock(run).then(
            () => undefined,
            (e: unknown) => e,
          );
          return err !== undefined;
        },
        10_000,
        "the lock to be seen as held",
      );
      expect(err).toMatchObject({ code: "switch-locked", exitCode: 3 });
      expect((err as Error).message).toMatch(/^switch-to-configuration is locked by process \d+ \((flock|sleep)/);
    } finally {
      // flock's child inherits the lock: end the whole group.
      process.kill(-(holder.pid as number), "SIGKILL");
    }
    await waitFor(async () => (await checkSwitchLock(run).then(() => true, () => false)), 10_000, "the lock to be free again");
  });
});
