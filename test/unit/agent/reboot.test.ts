import { chmod, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { switchInhibited } from "../../../src/agent/reboot.js";

async function toplevel(opts: { inhibitors: boolean; checkExit: number }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "oscd-inhibit-"));
  await mkdir(join(dir, "bin"));
  const script = join(dir, "bin", "switch-to-configuration");
  await writeFile(script, `#!/bin/sh\n[ "$1" = check ] || exit 99\necho "systemd changed its ABI: reboot" >&2\nexit ${opts.checkExit}\n`);
  await chmod(script, 0o755);
  if (opts.inhibitors) await writeFile(join(dir, "switch-inhibitors"), '{"systemd": "256"}');
  return dir;
}

describe("switch inhibitors", () => {
  it("a failing `switch-to-configuration check` inhibits a live switch and says why", async () => {
    expect(await switchInhibited(await toplevel({ inhibitors: true, checkExit: 1 }))).toBe("systemd changed its ABI: reboot");
  });

  it("a passing check, or a system without inhibitors (check never run), does not", async () => {
    expect(await switchInhibited(await toplevel({ inhibitors: true, checkExit: 0 }))).toBeUndefined();
    expect(await switchInhibited(await toplevel({ inhibitors: false, checkExit: 1 }))).toBeUndefined();
  });
});
