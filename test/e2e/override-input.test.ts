import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetRepo, GIT_ENV, SimHost, must } from "../harness/index.js";
import { FLEET_TOML, machineHost, upgradeOn } from "./upgrade-helpers.js";

/**
 * RFC R5.2: build a release against another package set than the one it pins. The fleet's
 * flake has an input `pkgs` (a git repository with two commits); the release locks the first,
 * `--override-input` builds with the second.
 */
let pkgs: string;
let pkgsB: string;
let fleet: FleetRepo;
const hosts: SimHost[] = [];

async function gitIn(dir: string, args: string[]): Promise<string> {
  return (await must("git", ["-C", dir, ...args], { env: GIT_ENV })).stdout.trim();
}

beforeAll(async () => {
  pkgs = await mkdtemp(join(tmpdir(), "oscd-fleet-pkgs-"));
  await gitIn(pkgs, ["init", "-q", "-b", "main"]);
  await writeFile(join(pkgs, "flake.nix"), '{ outputs = { self }: { marker = "pkgs-A"; }; }\n');
  await gitIn(pkgs, ["add", "-A"]);
  await gitIn(pkgs, ["commit", "-q", "-m", "A"]);
  await writeFile(join(pkgs, "flake.nix"), '{ outputs = { self }: { marker = "pkgs-B"; }; }\n');
  await gitIn(pkgs, ["commit", "-q", "-am", "B"]);
  pkgsB = await gitIn(pkgs, ["rev-parse", "HEAD"]);
  await gitIn(pkgs, ["reset", "-q", "--hard", "HEAD~1"]);

  fleet = await FleetRepo.create({ layout: "flake", hosts: ["web1"] });
  await writeFile(
    join(fleet.dir, "flake.nix"),
    `{
  inputs.pkgs.url = "git+file://${pkgs}";
  outputs = { self, pkgs }: {
    nixosConfigurations.web1.config.system.build.toplevel = import ./lib/fake-toplevel.nix ((import ./hosts/web1.nix) // {
      version = builtins.replaceStrings [ "\\n" ] [ "" ] (builtins.readFile ./VERSION);
      marker = pkgs.marker;
    });
  };
}
`,
  );
  await writeFile(join(fleet.dir, "oscd.toml"), FLEET_TOML);
  await fleet.git(["add", "-A"]);
  await must("nix", ["flake", "lock", fleet.dir], { timeoutMs: 120_000 });
  await fleet.git(["add", "-A"]);
  await fleet.git(["commit", "-q", "-m", "Use the pkgs input"]);
  await fleet.release("2.0.0");
});
afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await fleet?.destroy();
  if (pkgs) await rm(pkgs, { recursive: true, force: true });
});

describe("oscd upgrade --override-input", () => {
  it("builds with the pinned input by default and with the overriding one when asked", async () => {
    const h = await machineHost("web1", fleet);
    hosts.push(h);
    const pinned = await upgradeOn(h, []);
    expect(pinned.exitCode, pinned.stderr).toBe(0);
    expect(await readFile(h.path(`${await h.currentSystem()}/fake-config`), "utf8")).toContain("marker=pkgs-A");
    const over = await upgradeOn(h, ["--override-input", `pkgs=git+file://${pkgs}?rev=${pkgsB}`]);
    expect(over.exitCode, over.stderr).toBe(0);
    expect(await readFile(h.path(`${await h.currentSystem()}/fake-config`), "utf8")).toContain("marker=pkgs-B");
    const bad = await upgradeOn(h, ["--override-input", "pkgs"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--override-input "pkgs" is not NAME=REF/);
  });
});
