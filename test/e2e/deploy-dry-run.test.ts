import { readdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFleet, oscdDeploy, tempDir, uniqueMarker, type DeployFleet, type SimHost } from "../harness/index.js";
import { wholeGeneration } from "./upgrade-helpers.js";

/**
 * `oscd deploy --dry-run` and `--mode copy` against SimHosts: the dry run changes nothing on
 * any host and names what the real run then does; copy leaves a valid closure on the host and
 * its profile and running system as they were.
 */
let f: DeployFleet;
let state: string;

beforeAll(async () => {
  state = await tempDir("e2e-deploy-dry-state");
  f = await deployFleet(["dr1", "dr2"]);
}, 600_000);

afterAll(async () => {
  await f?.destroy();
});

interface Plan {
  type: "dry-run";
  dryRun: true;
  command: string;
  steps: { action: string; target: string; host?: string; detail?: string }[];
}

/** Everything a deploy could change on a host: profile, generations, running system, deployments. */
async function hostState(h: SimHost): Promise<unknown> {
  const deployments = await readdir(h.path("/var/lib/oscd/deploy")).catch(() => []);
  return {
    profile: (await h.sh(["readlink", "/nix/var/nix/profiles/system"])).stdout,
    generations: (await h.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--list-generations"])).stdout,
    current: await h.currentSystem(),
    deployments: deployments.sort(),
    keys: await readdir(h.path("/run/keys")).catch(() => []),
  };
}

/** With --json, deploy prints events as JSON lines; the plan is the last. */
const planOf = (stdout: string) => JSON.parse(stdout.trim().split("\n").pop()!) as Plan;

const valid = async (h: SimHost, path: string) => (await h.exec(["nix-store", "--check-validity", path])).exitCode === 0;

describe("oscd deploy --dry-run", () => {
  it("reaches and evaluates but changes nothing on any host; the plan names the closures, destinations and switches a real run then does", async () => {
    await f.fleet.commitHostChange("dr1", `dry-${uniqueMarker()}`);
    const [dr1, dr2] = [f.byName.get("dr1")!, f.byName.get("dr2")!];
    const before = [await hostState(dr1), await hostState(dr2)];
    const r = await oscdDeploy(f.fleet, ["--dry-run", "--json"], { stateDir: state });
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = planOf(r.stdout);
    expect(plan).toMatchObject({ type: "dry-run", dryRun: true, command: "deploy" });
    const step = (host: string, action: string) => plan.steps.find((s) => s.host === host && s.action === action);
    expect(step("dr1", "copy")).toMatchObject({ target: `ssh-ng://root@${dr1.address}` });
    const next = step("dr1", "switch")!.target;
    expect(next).toMatch(/^\/nix\/store\/[a-z0-9]{32}-nixos-system-dr1-/);
    expect(step("dr1", "copy")!.detail).toBe(`closure of ${next}`);
    // dr2 did not change: the plan says a real run finds it unchanged.
    expect(step("dr2", "switch")).toMatchObject({ target: await dr2.currentSystem() });
    expect(step("dr2", "switch")!.detail).toMatch(/runs this system already: unchanged unless --force/);
    // Nothing changed: same profile, generations, system, no deployment, no key; the new
    // system is not even in the host's store (nothing was copied), nor built here.
    expect([await hostState(dr1), await hostState(dr2)]).toEqual(before);
    expect(await valid(dr1, next)).toBe(false);
    // The text form says the same.
    const text = await oscdDeploy(f.fleet, ["--dry-run", "--on", "dr1"], { stateDir: state });
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^dry run of oscd deploy: nothing was changed/);
    expect(text.stdout).toContain(`copy    ssh-ng://root@${dr1.address}`);
    expect([await hostState(dr1), await hostState(dr2)]).toEqual(before);

    // The real run does what the plan said: dr1 runs the named toplevel.
    const real = await oscdDeploy(f.fleet, ["--on", "dr1", "--json"], { stateDir: state });
    expect(real.exitCode, real.stderr).toBe(0);
    expect(await dr1.currentSystem()).toBe(next);
    expect(await wholeGeneration(dr1)).toMatchObject({ toplevel: next, consistent: true });
  });

  it("--mode copy: the closure arrives whole and valid; the profile, generations and running system stay as they were", async () => {
    await f.fleet.commitHostChange("dr2", `copy-${uniqueMarker()}`);
    const dr2 = f.byName.get("dr2")!;
    const before = await hostState(dr2);
    const plan = planOf((await oscdDeploy(f.fleet, ["--on", "dr2", "--mode", "copy", "--dry-run", "--json"], { stateDir: state })).stdout);
    expect(plan.steps.map((s) => s.action)).toEqual(["copy"]);
    const next = plan.steps[0]!.detail!.replace(/^closure of /, "");
    const r = await oscdDeploy(f.fleet, ["--on", "dr2", "--mode", "copy", "--json"], { stateDir: state });
    expect(r.exitCode, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split("\n").pop()!) as { hosts: { host: string; result: string; new: { system?: string } }[] };
    expect(summary.hosts).toMatchObject([{ host: "dr2", result: "copied", new: { system: next } }]);
    // The whole closure is valid on the host (every path it references), and it was never activated.
    const closure = (await dr2.sh(["nix-store", "--query", "--requisites", next])).stdout.trim().split("\n");
    expect(closure.length).toBeGreaterThan(1);
    expect((await dr2.exec(["nix-store", "--check-validity", ...closure])).exitCode).toBe(0);
    expect(await hostState(dr2)).toEqual(before);
    expect(await dr2.currentSystem()).not.toBe(next);
    // A switch afterwards has nothing left to copy and activates exactly that system.
    const sw = await oscdDeploy(f.fleet, ["--on", "dr2"], { stateDir: state });
    expect(sw.exitCode, sw.stderr).toBe(0);
    expect(await dr2.currentSystem()).toBe(next);
  });

  it("--mode copy refuses what only goes with an activation", async () => {
    const r = await oscdDeploy(f.fleet, ["--on", "dr2", "--mode", "copy", "--keys-only"], { stateDir: state });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error\[usage\]: --mode copy copies the closures and activates nothing, so it takes no --keys-only/);
  });
});
