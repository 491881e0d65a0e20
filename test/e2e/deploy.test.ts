import { readdir, readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFleet, oscdDeploy, tempDir, type DeployFleet } from "../harness/index.js";
import { wholeGeneration } from "./upgrade-helpers.js";

/**
 * `oscd deploy` from the test machine to SimHosts running sshd: the hosts' own oscd (this
 * checkout's CLI) activates detached and waits for a confirmation over a new SSH connection.
 */
const NAMES = Array.from({ length: 10 }, (_, i) => `d${i + 1}`);
let f: DeployFleet;
let state: string;

beforeAll(async () => {
  state = await tempDir("e2e-deploy-state");
  f = await deployFleet(NAMES);
}, 600_000);

afterAll(async () => {
  await f?.destroy();
});

interface Summary {
  type: "summary";
  exitCode: number;
  stopped?: string;
  hosts: { host: string; result: string; old: { generation?: number; version?: string }; new: { generation?: number; version?: string }; error?: { code: string; message: string } }[];
}

function summaryOf(stdout: string): Summary {
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as Summary;
}


async function deploymentStatuses(host: string): Promise<{ state: string }[]> {
  const h = f.byName.get(host)!;
  const dir = h.path("/var/lib/oscd/deploy");
  const ids = await readdir(dir).catch(() => []);
  return Promise.all(ids.sort().map(async (id) => JSON.parse(await readFile(`${dir}/${id}/status.json`, "utf8")) as { state: string }));
}

describe("oscd deploy", () => {
  it("deploys ten hosts in parallel, each through its engine, confirmed over a new connection", async () => {
    await f.fleet.release("1.1.0");
    const r = await oscdDeploy(f.fleet, ["--json", "--parallel", "10"], { stateDir: state });
    const s = summaryOf(r.stdout);
    expect(s.hosts.map((h) => h.result), r.stderr).toEqual(NAMES.map(() => "done"));
    expect(r.exitCode).toBe(0);
    for (const h of s.hosts) expect(h).toMatchObject({ old: { generation: 1 }, new: { generation: 2, version: "1.1.0" } });
    // Events show the hosts overlapping: every host had started before the first finished.
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; host?: string; step?: string; report?: { host: string } });
    const firstDone = events.findIndex((e) => e.type === "host-done");
    const activatedBefore = new Set(events.slice(0, firstDone).filter((e) => e.type === "host" && e.step === "activate").map((e) => e.host));
    expect(activatedBefore.size).toBeGreaterThan(1);
    for (const n of NAMES) {
      const h = f.byName.get(n)!;
      expect(await wholeGeneration(h)).toMatchObject({ consistent: true, journalOpen: false, locked: false });
      expect((await deploymentStatuses(n)).map((x) => x.state)).toEqual(["committed"]);
    }
  });
});
