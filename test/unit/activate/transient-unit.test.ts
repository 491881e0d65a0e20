import { chmod, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runningSwitchUnits, switchCommand, switchUnitName } from "../../../src/activate/transient-unit.js";
import { switchTo } from "../../../src/activate/switch.js";

describe("switch in a transient systemd unit", () => {
  it("runs switch-to-configuration through systemd-run into its own unit, waiting for it, output to the journal", () => {
    const unit = switchUnitName("switch", new Date("2026-11-22T00:00:00Z"));
    expect(unit).toMatch(/^oscd-switch-20261122000000-switch-[0-9a-f]{8}$/);
    expect(switchUnitName("switch")).not.toBe(switchUnitName("switch"));
    expect(switchCommand("/nix/store/x-nixos-system-web1", "switch", unit)).toEqual({
      file: "systemd-run",
      args: [`--unit=${unit}`, "--collect", "--wait", "--quiet", "--service-type=exec", "--property=KillMode=mixed", "--description=oscd: switch-to-configuration switch", "--", "/nix/store/x-nixos-system-web1/bin/switch-to-configuration", "switch"],
    });
    // No --pipe: a unit writing into the caller's pipe would die with it.
    expect(switchCommand("/nix/store/x", "switch", unit).args).not.toContain("--pipe");
    expect(switchCommand("/nix/store/x-nixos-system-web1", "boot", undefined)).toEqual({ file: "/nix/store/x-nixos-system-web1/bin/switch-to-configuration", args: ["boot"] });
  });

  it("the engine's switch goes through systemd-run where systemd runs", async () => {
    // A stand-in systemd-run first on PATH records its arguments and runs the command after `--`.
    const dir = await mkdtemp(join(tmpdir(), "oscd-systemd-run-"));
    const log = join(dir, "args");
    await writeFile(join(dir, "systemd-run"), `#!/bin/sh\nprintf '%s\\n' "$@" > ${log}\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n`);
    await chmod(join(dir, "systemd-run"), 0o755);
    const top = join(dir, "top");
    await mkdir(join(top, "bin"), { recursive: true });
    await writeFile(join(top, "bin", "switch-to-configuration"), "#!/bin/sh\necho switched $1 >&2\n", { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path ?? ""}`;
    try {
      const lines: string[] = [];
      await switchTo(top, "test", join(dir, "switch.fifo"), { systemd: true, onLine: (l) => lines.push(l) });
      const args = (await readFile(log, "utf8")).trim().split("\n");
      expect(args[0]).toMatch(/^--unit=oscd-switch-\d{14}-test-[0-9a-f]{8}$/);
      expect(args.slice(-2)).toEqual([join(top, "bin", "switch-to-configuration"), "test"]);
      expect(lines[0]).toMatch(/^in transient unit oscd-switch-/);
    } finally {
      process.env.PATH = path;
    }
  });

  it("finds switch units still running in systemctl list-units output", () => {
    const out = [
      "oscd-switch-a.service loaded active running /nix/store/x/bin/switch-to-configuration switch",
      "oscd-switch-b.service loaded inactive dead /nix/store/y/bin/switch-to-configuration switch",
      "sshd.service loaded active running OpenSSH",
    ].join("\n");
    expect(runningSwitchUnits(out)).toEqual(["oscd-switch-a.service"]);
    expect(runningSwitchUnits("")).toEqual([]);
  });
});
