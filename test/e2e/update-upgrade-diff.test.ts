import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetRepo, type SimHost } from "../harness/index.js";
import { FLEET_TOML, machineHost, upgradeOn } from "./upgrade-helpers.js";

/** `oscd upgrade --diff`: the change (packages, closure size, reboot forecast) is printed before activating. */
let fleet: FleetRepo;
const hosts: SimHost[] = [];

beforeAll(async () => {
  fleet = await FleetRepo.create({ layout: "flake", hosts: ["db1"] });
  await fleet.commitFile("oscd.toml", FLEET_TOML, "Add fleet file");
  await fleet.release("1.0.0");
  await fleet.setHost({ name: "db1", kernelVersion: "6.6.0" }, "db1: kernel 6.6.0");
  await fleet.release("1.1.0");
});
afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await fleet?.destroy();
});

describe("oscd upgrade --diff", () => {
  it("shows the package changes and the reboot the new kernel needs, before the activation", async () => {
    const h = await machineHost("db1", fleet);
    hosts.push(h);
    const first = await upgradeOn(h, ["--tag", "v1.0.0", "--diff", "-q"]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain("diff: no running system to compare with");
    const r = await upgradeOn(h, ["--tag", "v1.1.0", "--diff", "-q"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const diffAt = r.stdout.indexOf("diff: running system → new system");
    expect(diffAt).toBeGreaterThanOrEqual(0);
    expect(r.stdout).toContain("~ linux: 6.1.0 → 6.6.0");
    expect(r.stdout).toContain("reboot: needed (kernel, initrd, kernel-modules)");
    // Printed before the activation's own lines.
    expect(diffAt).toBeLessThan(r.stdout.indexOf("version:"));
  });
});
