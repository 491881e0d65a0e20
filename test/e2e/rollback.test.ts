import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOUNDARIES } from "../../src/activate/index.js";
import { FleetRepo, SimHost, oscdOn } from "../harness/index.js";
import { machineHost, releasedFleet, toplevelAt as toplevelOf, upgradeOn, wholeGeneration } from "./upgrade-helpers.js";

let fleet: FleetRepo;
let v100: string;
let v110: string;
const hosts: SimHost[] = [];

const toplevelAt = (commit: string, host = "web1") => toplevelOf(fleet, commit, host);

async function hostOnV100(): Promise<SimHost> {
  const h = await machineHost("web1", fleet);
  hosts.push(h);
  const r = await upgradeOn(h, ["--tag", "v1.0.0"]);
  expect(r.exitCode, r.stderr).toBe(0);
  return h;
}

/** A branch whose web1 system fails to switch (exit 4) or leaves a failing health marker. */
async function badBranch(name: string, setting: { failSwitch?: boolean; health?: "failing" }): Promise<string> {
  await fleet.git(["checkout", "-q", "-b", name, v110]);
  const c = await fleet.setHost({ name: "web1", ...setting, marker: name }, `web1: ${name}`);
  await fleet.git(["checkout", "-q", "main"]);
  return c;
}

let failSwitch: string;
let failHealth: string;
beforeAll(async () => {
  ({ fleet, v100, v110 } = await releasedFleet());
  failSwitch = await badBranch("fail-switch", { failSwitch: true });
  failHealth = await badBranch("fail-health", { health: "failing" });
});
afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await fleet?.destroy();
});

describe("rollback on failure", () => {
  it("a failing switch ends on the previous generation with exit 4, and is not retried automatically", async () => {
    const h = await hostOnV100();
    const old = await toplevelAt(v100);
    const r = await upgradeOn(h, ["--branch", "fail-switch"]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/oscd: error\[rolled-back\]: activation of .* failed and was rolled back to .*: switch-to-configuration switch of .* exited 4/);
    expect(await wholeGeneration(h)).toEqual({ toplevel: old, consistent: true, journalOpen: false, locked: false });
    // The bad system ran, then the old one was activated again.
    const acts = await h.activations();
    expect(acts.slice(-2)).toEqual([`switch ${await toplevelAt(failSwitch)}`, `switch ${old}`]);
    const gens = JSON.parse((await oscdOn(h, ["generations", "--json"])).stdout) as { toplevel: string }[];
    expect(gens.map((g) => g.toplevel)).toEqual([old]);
    const again = await upgradeOn(h, ["--branch", "fail-switch"]);
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/error\[failed-before\]/);
    const status = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { failedReleases: { commit: string }[]; lastDeployment: { state: string } };
    expect(status.failedReleases.map((f) => f.commit)).toEqual([failSwitch]);
    expect(status.lastDeployment.state).toBe("aborted");
  });

  it("a failing health check ends on the previous generation with exit 4", async () => {
    const h = await hostOnV100();
    const r = await upgradeOn(h, ["--branch", "fail-health"]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/health checks failed after 1 attempt\(s\): command grep -qx ok \/run\/fake-nixos\/health exited 1/);
    expect(await wholeGeneration(h)).toEqual({ toplevel: await toplevelAt(v100), consistent: true, journalOpen: false, locked: false });
    expect((await h.sh(["cat", "/run/fake-nixos/health"])).stdout.trim()).toBe("ok");
    expect(failHealth).toMatch(/^[0-9a-f]{40}$/);
  });

  it("oscd rollback goes back one generation, and --to a given one", async () => {
    const h = await hostOnV100();
    await upgradeOn(h, []);
    await upgradeOn(h, ["--branch", "testing"]);
    const testing = await wholeGeneration(h);
    const activations = (await h.activations()).length;
    const dry = await oscdOn(h, ["rollback", "--dry-run", "--json"]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { dryRun: boolean; command: string; steps: { action: string; target: string; host: string; detail: string }[] };
    expect(plan).toMatchObject({ dryRun: true, command: "rollback", steps: [{ action: "switch", target: await toplevelAt(v110), host: "web1" }] });
    const [, from, to] = /^generation (\d+).* → generation (\d+)/.exec(plan.steps[0]?.detail ?? "") ?? [];
    expect(Number(to)).toBe(Number(from) - 1);
    const dryText = await oscdOn(h, ["rollback", "--dry-run", "--to", "1"]);
    expect(dryText.exitCode, dryText.stderr).toBe(0);
    expect(dryText.stdout).toMatch(/^dry run of oscd rollback: nothing was changed/);
    expect(dryText.stdout).toMatch(new RegExp(`switch +${(await toplevelAt(v100)).replaceAll(".", "\\.")} +web1 +generation ${from}.* → generation 1 `));
    // Nothing moved: the profile, the running system and the boot default are where they were.
    expect(await wholeGeneration(h)).toEqual(testing);
    expect((await h.activations()).length).toBe(activations);
    const back = await oscdOn(h, ["rollback"]);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: await toplevelAt(v110), consistent: true });
    const to1 = await oscdOn(h, ["rollback", "--to", "1"]);
    expect(to1.exitCode).toBe(0);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: await toplevelAt(v100), consistent: true });
    const bad = await oscdOn(h, ["rollback", "--to", "42"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/there is no generation 42/);
  });
});

/**
 * A SIGKILL at every step boundary of the engine, then a start: the host must end on a
 * whole generation (profile, running system and boot default agree) with the journal closed.
 */
describe("crash at every step boundary", () => {
  const expected: Record<string, "old" | "new"> = {
    locked: "old",
    realised: "old",
    guarded: "old",
    "profile-set": "old",
    switched: "old",
    checked: "new",
    committed: "new",
    "rolling-back": "old",
  };

  it("covers every boundary the engine has", () => {
    expect(Object.keys(expected).sort()).toEqual([...BOUNDARIES].sort());
  });

  it("a crash is not the release's fault: after recovery the same release is tried again without a flag", async () => {
    const h = await hostOnV100();
    const killed = await upgradeOn(h, ["--branch", "testing"], { OSCD_FAULT_KILL_AT: "switched" });
    expect(killed.signal).toBe("SIGKILL");
    const rec = await oscdOn(h, ["recover", "--json"]);
    expect(JSON.parse(rec.stdout)).toMatchObject({ interruptedAt: "switched", outcome: "rolled-back" });
    const status = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { failedReleases: unknown[]; lastDeployment: { interrupted?: boolean } };
    expect(status.failedReleases).toEqual([]);
    expect(status.lastDeployment.interrupted).toBe(true);
    const again = await upgradeOn(h, ["--branch", "testing"]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await wholeGeneration(h)).toEqual({ toplevel: await toplevelAt((await fleet.head("testing")) as string), consistent: true, journalOpen: false, locked: false });
  });

  for (const boundary of BOUNDARIES) {
    it(`killed at "${boundary}", the next start ends on the ${expected[boundary]} generation`, async () => {
      const h = await hostOnV100();
      const branch = boundary === "rolling-back" ? "fail-switch" : "testing";
      const killed = await upgradeOn(h, ["--branch", branch, "--retry-failed"], { OSCD_FAULT_KILL_AT: boundary });
      expect(killed.signal).toBe("SIGKILL");
      // Killed, it left its journal and its lock behind.
      expect(await wholeGeneration(h)).toMatchObject({ journalOpen: true, locked: true });
      const rec = await oscdOn(h, ["recover", "--json"]);
      expect(rec.exitCode, rec.stderr).toBe(0);
      const recovery = JSON.parse(rec.stdout) as { interruptedAt: string; outcome: string } | null;
      expect(recovery?.interruptedAt).toBe(boundary === "rolling-back" ? "rolling-back" : boundary);
      const want = expected[boundary] === "old" ? await toplevelAt(v100) : await toplevelAt((await fleet.head("testing")) as string);
      expect(await wholeGeneration(h)).toEqual({ toplevel: want, consistent: true, journalOpen: false, locked: false });
      const status = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { lastDeployment: { recovered: boolean } };
      expect(status.lastDeployment.recovered).toBe(true);
    });
  }
});
