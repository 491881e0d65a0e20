import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invalidPaths } from "../../src/builder/index.js";
import { deployFleet, oscdDeploy, SimHost, tempDir, uniqueMarker, type DeployFleet } from "../harness/index.js";

/**
 * `oscd deploy --build-host`: a SimHost with sshd builds the closures (Nix's remote builds);
 * they come back to the deployer and go from there to the target, which activates as usual.
 */
let f: DeployFleet;
let builder: SimHost;
let state: string;

beforeAll(async () => {
  state = await tempDir("e2e-deploy-build-host");
  f = await deployFleet(["t1"]);
  builder = await SimHost.create({ name: "builder", sshd: true });
}, 600_000);

afterAll(async () => {
  await builder?.destroy();
  await f?.destroy();
});

const validOn = async (h: SimHost, path: string) => (await h.exec(["nix-store", "--check-validity", path])).exitCode === 0;

describe("oscd deploy --build-host", () => {
  it("builds on the build host over SSH, brings the closure here and deploys it to the target", async () => {
    await f.fleet.commitHostChange("t1", `built-elsewhere-${uniqueMarker()}`);
    await f.fleet.release("1.1.0");
    const r = await oscdDeploy(f.fleet, ["--build-host", `root@${builder.address}`, "--json"], { stateDir: state });
    expect(r.exitCode, r.stderr).toBe(0);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; phase?: string; detail?: string; hosts?: { host: string; result: string; new: { system?: string } }[] });
    expect(events.find((e) => e.type === "phase" && e.phase === "build")?.detail).toBe(`1 host(s) on root@${builder.address}`);
    const h = events.find((e) => e.type === "summary")!.hosts![0]!;
    expect(h).toMatchObject({ host: "t1", result: "done" });
    const toplevel = h.new.system!;
    expect(await f.byName.get("t1")!.currentSystem()).toBe(toplevel);
    // Built there (nothing else puts it in the build host's store), and here on the way to the target.
    expect(await validOn(builder, toplevel)).toBe(true);
    expect((await invalidPaths([toplevel])).size).toBe(0);
  });

  it("refuses before building when the build host cannot be reached, naming it", async () => {
    await f.fleet.commitHostChange("t1", `never-built-${uniqueMarker()}`);
    const r = await oscdDeploy(f.fleet, ["--build-host", "root@192.0.2.1", "--json"], { stateDir: state, env: {} });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/error\[hosts-unreachable\]: not deploying: build host \(build host: unreachable/);
    expect(r.stdout).not.toMatch(/"phase":"build"/);
  });

  it("refuses --build-host together with --builders", async () => {
    const r = await oscdDeploy(f.fleet, ["--build-host", `root@${builder.address}`, "--builders", "ssh://x x86_64-linux"], { stateDir: state });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--build-host and --builders do not go together/);
  });
});
