import { describe, expect, it } from "vitest";
import { buildHostPlan } from "../../../src/deploy/build-host.js";
import { parseSshTarget } from "../../../src/deploy/ssh.js";

const settings = { options: ["IdentityFile=/k"], hostKeyChecking: "yes" as const, controlDir: "/tmp/c", connectTimeoutS: 10 };

describe("--build-host", () => {
  it("builds every selected system there and nothing here, over the shared connection with the port as -p", () => {
    const plan = buildHostPlan(parseSshTarget("build host", "nix@[fd00::9]:2222"), settings, ["aarch64-linux", "x86_64-linux", "aarch64-linux"], 10);
    expect(plan.builders).toBe("ssh-ng://nix@fd00::9 aarch64-linux,x86_64-linux - 10 1 big-parallel");
    expect(plan.maxJobs).toBe(0);
    expect(plan.env.NIX_SSHOPTS).toMatch(/ControlMaster=no -o ControlPath=\/tmp\/c\/%C/);
    expect(plan.env.NIX_SSHOPTS).toMatch(/-p 2222$/);
  });

  it("refuses a system name that could carry more than a system into the builders line", () => {
    for (const bad of [["x86_64-linux big-parallel"], ["a;b"], []]) {
      expect(() => buildHostPlan(parseSshTarget("build host", "root@b"), settings, bad, 1), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: "build-host-systems" }));
    }
  });
});
