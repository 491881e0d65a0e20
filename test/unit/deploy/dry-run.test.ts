import { describe, expect, it } from "vitest";
import { deployPlan, type DeployPlanInput } from "../../../src/deploy/dry-run.js";

const T1 = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web1-1";
const T0 = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-web1-0";

function input(over: Partial<DeployPlanInput> = {}): DeployPlanInput {
  return {
    mode: "switch",
    storeProtocol: "ssh-ng",
    probes: 0,
    hosts: [
      {
        name: "web1",
        target: { host: "web1", destination: "root@10.0.0.1", user: "root" },
        facts: { bootId: "b", currentSystem: T0, oscd: true },
        toplevel: T1,
        secrets: [
          { name: "tls", config: { upload: "before", owner: "root", group: "root", mode: "0400", file: "tls.key" } },
          { name: "token", config: { upload: "after", owner: "root", group: "root", mode: "0400", destination: "/var/lib/app/token", file: "t" } },
        ],
      },
    ],
    ...over,
  } as DeployPlanInput;
}

describe("deployPlan", () => {
  it("names the signing, the copy, the keys before and after, and the switch, in the order a real run does them", () => {
    const p = deployPlan(input({ signKeyFile: "/k/fleet.secret", reboot: "needed" }), ["pinned"]);
    expect(p).toMatchObject({ dryRun: true, command: "deploy", did: ["pinned"] });
    expect(p.steps.map((s) => [s.action, s.target])).toEqual([
      ["sign", "local store"],
      ["copy", "ssh-ng://root@10.0.0.1"],
      ["upload key", "root@10.0.0.1:/run/keys/tls"],
      ["switch", T1],
      ["reboot", "root@10.0.0.1"],
      ["upload key", "root@10.0.0.1:/var/lib/app/token"],
    ]);
    expect(p.steps[3]!.detail).toBe(`from ${T0} through its oscd engine, magic rollback`);
  });

  it("--mode copy: the copy alone, no key, no activation", () => {
    expect(deployPlan(input({ mode: "copy", signKeyFile: "/k" }), []).steps.map((s) => s.action)).toEqual(["sign", "copy"]);
  });

  it("a host that runs the system already is named unchanged unless --force; boot always activates", () => {
    const same = input();
    same.hosts[0]!.facts!.currentSystem = T1;
    expect(deployPlan(same, []).steps.find((s) => s.action === "switch")!.detail).toMatch(/runs this system already: unchanged unless --force$/);
    expect(deployPlan({ ...same, force: true }, []).steps.find((s) => s.action === "switch")!.detail).not.toMatch(/unchanged/);
    expect(deployPlan({ ...same, mode: "boot" }, []).steps.find((s) => s.action === "boot")!.detail).not.toMatch(/unchanged/);
  });

  it("--keys-only: every key, nothing else; a host whose evaluation failed is a warning, not a step", () => {
    expect(deployPlan(input({ keysOnly: true }), []).steps.map((s) => s.action)).toEqual(["upload key", "upload key"]);
    const failed = input();
    failed.hosts[0]!.toplevel = undefined;
    failed.hosts[0]!.error = "evaluation failed: boom";
    const p = deployPlan(failed, []);
    expect(p.steps).toEqual([]);
    expect(p.warnings).toEqual(["web1: evaluation failed: boom; a real run fails this host"]);
  });
});
