import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetRepo, SimHost } from "../harness/index.js";
import { inputFleet, PkgsRepo } from "../harness/input-fleet.js";
import { machineHost, upgradeOn } from "./upgrade-helpers.js";

/**
 * `oscd upgrade --override-input` on a classic fleet: the entry of pins.json is replaced
 * through the fleet file's `oscdPins` argument (by a commit id, or git+URL?rev=).
 */
let pkgs: PkgsRepo;
let fleet: FleetRepo;
let pinned: string;
let newer: string;
const hosts: SimHost[] = [];

beforeAll(async () => {
  pkgs = await PkgsRepo.create({ nginxVersion: "1.24.0" });
  pinned = await pkgs.head();
  fleet = await inputFleet("classic", pkgs);
  newer = await pkgs.commit({ nginxVersion: "1.26.0" });
});
afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await fleet?.destroy();
  await pkgs?.destroy();
});

describe("oscd upgrade --override-input, classic layout", () => {
  it("builds with the pinned revision by default and with the overriding one when asked; refuses names and refs it cannot apply", async () => {
    const h = await machineHost("web1", fleet);
    hosts.push(h);
    const commit = await fleet.head();
    const config = async () => readFile(h.path(`${await h.currentSystem()}/fake-config`), "utf8");
    const plain = await upgradeOn(h, ["--commit", commit, "-q"]);
    expect(plain.exitCode, plain.stderr).toBe(0);
    expect(await config()).toMatch(/marker=nginx=\/nix\/store\/[a-z0-9]{32}-nginx-1\.24\.0/);
    const byRev = await upgradeOn(h, ["--commit", commit, "--override-input", `pkgs=${newer}`, "-q"]);
    expect(byRev.exitCode, byRev.stderr).toBe(0);
    expect(await config()).toMatch(/-nginx-1\.26\.0/);
    const byUrl = await upgradeOn(h, ["--commit", commit, "--override-input", `pkgs=git+${pkgs.url}?ref=main&rev=${pinned}`, "-q"]);
    expect(byUrl.exitCode, byUrl.stderr).toBe(0);
    expect(await config()).toMatch(/-nginx-1\.24\.0/);
    const unknown = await upgradeOn(h, ["--commit", commit, "--override-input", `nixpkgs=${newer}`, "-q"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("error[override-unknown-input]");
    expect(unknown.stderr).toContain("entries are: pkgs");
    const bad = await upgradeOn(h, ["--commit", commit, "--override-input", "pkgs=github:NixOS/nixpkgs", "-q"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("error[override-bad-pin]");
  });
});
