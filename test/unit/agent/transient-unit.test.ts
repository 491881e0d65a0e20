import { describe, expect, it } from "vitest";
import { runningSwitchUnits, switchUnitCommand } from "../../../src/agent/transient-unit.js";

describe("switch in a transient systemd unit", () => {
  it("names the unit after the deployment and waits for it, as an argument list", () => {
    expect(switchUnitCommand("2026-11-22T00:00:00Z-ab12", "/nix/store/x-nixos-system-web1", "switch")).toEqual([
      "systemd-run",
      "--unit=oscd-switch-2026-11-22T00_00_00Z-ab12",
      "--collect",
      "--wait",
      "--pipe",
      "--quiet",
      "--service-type=exec",
      "--property=KillMode=mixed",
      "--",
      "/nix/store/x-nixos-system-web1/bin/switch-to-configuration",
      "switch",
    ]);
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
