import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { must, type FleetRepo } from "../harness/index.js";
import { commitKernelChange, defaultConfigHosts, inputFleet, PkgsRepo } from "../harness/input-fleet.js";
import { json, oscd } from "../integration/builder/helpers.js";
import type { DiffResult, ImpactReport } from "../../src/inspect/index.js";

/**
 * oscd option, oscd diff and oscd impact on a fleet of three hosts (web1, web2 with nginx from
 * a second repository; db1 without), in both layouts: a commit that changes db1's kernel
 * touches db1 only and needs a reboot there.
 */
const rootsDir = "/nix/var/nix/gcroots/oscd-tests-inspect";
let state: string;
let pkgs: PkgsRepo;
const fleets: FleetRepo[] = [];

beforeAll(async () => {
  state = await mkdtemp(join(tmpdir(), "oscd-inspect-"));
  pkgs = await PkgsRepo.create({ nginxVersion: "1.24.0" });
});
afterAll(async () => {
  for (const f of fleets) await f.destroy();
  await pkgs?.destroy();
  await rm(state, { recursive: true, force: true });
  await rm(rootsDir, { recursive: true, force: true });
});

describe.each(["flake", "classic"] as const)("%s layout", (layout) => {
  let fleet: FleetRepo;
  let before: string;
  let after: string;
  const common = () => ["--repo", fleet.dir, "--state-dir", join(state, layout)];

  beforeAll(async () => {
    fleet = await inputFleet(layout, pkgs);
    fleets.push(fleet);
    before = await fleet.head();
    after = await commitKernelChange(fleet, defaultConfigHosts()[2] as { name: string }, "6.6.0");
  });

  it("oscd option prints option values at HEAD and at a ref, as text and JSON", async () => {
    const name = await oscd(["option", "web1", "networking.hostName", ...common()]);
    expect(name.exitCode, name.stderr).toBe(0);
    expect(name.stdout).toBe("web1\n");
    const nginx = await oscd(["option", "db1", "services.nginx.enable", "--json", ...common()]);
    expect(json<boolean>(nginx)).toBe(false);
    const tree = await oscd(["option", "web2", "services.nginx", "--json", ...common()]);
    expect(json(tree)).toEqual({ enable: true, package: "nginx" });
    const kernelNow = await oscd(["option", "db1", "boot.kernelVersion", ...common()]);
    expect(kernelNow.stdout).toBe("6.6.0\n");
    const kernelThen = await oscd(["option", "db1", "boot.kernelVersion", "--ref", before, ...common()]);
    expect(kernelThen.exitCode, kernelThen.stderr).toBe(0);
    expect(kernelThen.stdout).toBe("6.1.0\n");
  });

  it("oscd option refuses a missing path naming the nearest names, an unknown host and an unknown ref", async () => {
    const typo = await oscd(["option", "web1", "services.ngnix.enable", ...common()]);
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toContain("error[option-not-found]");
    expect(typo.stderr).toMatch(/hint: did you mean "services\.nginx"/);
    const deeper = await oscd(["option", "web1", "services.nginx.enabel", ...common()]);
    expect(deeper.exitCode).toBe(2);
    expect(deeper.stderr).toMatch(/hint: did you mean "services\.nginx\.enable"/);
    const host = await oscd(["option", "web9", "networking.hostName", ...common()]);
    expect(host.exitCode).toBe(2);
    expect(host.stderr).toContain("error[inspect-unknown-host]");
    const ref = await oscd(["option", "web1", "networking.hostName", "--ref", "no-such-ref", ...common()]);
    expect(ref.exitCode).toBe(2);
    expect(ref.stderr).toContain("error[unknown-ref]");
    const bad = await oscd(["option", "web1", "services..enable", ...common()]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("error[option-bad-path]");
  });

  it("oscd diff shows the kernel change of db1 with versions, closure size and the reboot", async () => {
    const r = await oscd(["diff", "db1", "--from", before, "--to", after, "--json", "--roots-dir", rootsDir, ...common()]);
    expect(r.exitCode, r.stderr).toBe(0);
    const d = json<DiffResult>(r);
    expect(d.changed).toBe(true);
    expect(d.packages.changed).toEqual(
      expect.arrayContaining([
        { name: "linux", from: ["6.1.0"], to: ["6.6.0"] },
        { name: "initrd", from: ["6.1.0-1"], to: ["6.6.0-1"] },
      ]),
    );
    expect(d.packages.added).toEqual([]);
    expect(d.reboot).toEqual({ needed: true, reasons: ["kernel", "initrd", "kernel-modules"] });
    expect(d.closureSize.to - d.closureSize.from).toBe(d.closureSize.difference);
    const web = await oscd(["diff", "web1", "--from", before, "--to", after, "--roots-dir", rootsDir, "-q", ...common()]);
    expect(web.exitCode, web.stderr).toBe(0);
    expect(web.stdout).toContain("no change");
  });

  it("oscd diff compares generations of a profile", async () => {
    const profile = join(state, `${layout}-profile`, "system");
    await must("mkdir", ["-p", join(state, `${layout}-profile`)]);
    for (const ref of [before, after]) {
      const b = await oscd(["build", "--repo", fleet.dir, "--ref", ref, "--on", "db1", "--json", "--state-dir", join(state, layout), "--roots-dir", rootsDir]);
      const top = json<{ hosts: { toplevel: string }[] }>(b).hosts[0]?.toplevel as string;
      await must("nix-env", ["-p", profile, "--set", top]);
    }
    const r = await oscd(["diff", "db1", "--from", "1", "--to", "2", "--profile", profile, "--json", ...common()]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(json<DiffResult>(r).reboot.needed).toBe(true);
    const missing = await oscd(["diff", "db1", "--from", "7", "--to", "2", "--profile", profile, ...common()]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("error[no-such-generation]");
  });

  it("oscd impact: one host of three changes and needs a reboot; markdown for the pull request", async () => {
    const r = await oscd(["impact", "--from", before, "--to", after, "--format", "json", "--roots-dir", rootsDir, ...common()]);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = json<ImpactReport>(r);
    expect(report.from.commit).toBe(before);
    expect(report.to.commit).toBe(after);
    expect(report.hosts.map((h) => [h.host, h.status])).toEqual([
      ["db1", "changed"],
      ["web1", "unchanged"],
      ["web2", "unchanged"],
    ]);
    const db1 = report.hosts[0];
    expect(db1?.diff?.reboot).toEqual({ needed: true, reasons: ["kernel", "initrd", "kernel-modules"] });
    expect(db1?.diff?.packages.changed).toContainEqual({ name: "linux", from: ["6.1.0"], to: ["6.6.0"] });
    const md = await oscd(["impact", "--from", before, "--to", after, "--format", "markdown", "--roots-dir", rootsDir, ...common()]);
    expect(md.exitCode, md.stderr).toBe(0);
    expect(md.stdout).toContain("<!-- oscd-impact -->");
    expect(md.stdout).toContain("1 of 3 host(s) change, 1 need a reboot");
    expect(md.stdout).toMatch(/\| db1 \| changed \| [^\n]*linux 6\.1\.0 → 6\.6\.0[^\n]*\| \*\*yes\*\* \(kernel, initrd, kernel-modules\) \|/);
    expect(md.stdout).toMatch(/\| web1 \| unchanged \|/);
    const bad = await oscd(["impact", "--from", "no-such-ref", "--to", after, ...common()]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("error[unknown-ref]");
  });
});
