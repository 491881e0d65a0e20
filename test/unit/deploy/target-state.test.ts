import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDeploymentId, newDeploymentId, startTargetDeployment } from "../../../src/deploy/index.js";
import { deployDir } from "../../../src/deploy/target/index.js";
import type { HostLayout } from "../../../src/activate/index.js";

let dir: string;
let layout: HostLayout;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-unit-target-"));
  layout = { stateDir: dir, profile: join(dir, "profile"), gcrootDir: join(dir, "roots"), runDir: join(dir, "run") };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("target deployment ids", () => {
  it("sort by start time and refuse anything else as a directory name", () => {
    const a = newDeploymentId(new Date("2026-11-21T09:30:15.123Z"));
    const b = newDeploymentId(new Date("2026-11-21T09:30:15.124Z"));
    expect(a).toMatch(/^20261121093015123-[0-9a-f]{8}$/);
    expect([b, a].sort()).toEqual([a, b]);
    for (const bad of ["../../etc", "20261121093015123-0123abc", "20261121093015123-0123abcd/..", ""]) expect(() => checkDeploymentId(bad), bad).toThrow(/is not a deployment id/);
  });

  it("a start never reuses an existing deployment's directory", async () => {
    const id = newDeploymentId();
    await mkdir(deployDir(id, layout), { recursive: true });
    const req = { toplevel: "/nix/store/00000000000000000000000000000000-x", mode: "switch" as const, release: {}, confirmTimeoutMs: 0, machineConfig: "/nonexistent" };
    await expect(startTargetDeployment(req, { node: process.execPath, script: "/nonexistent" }, layout, id)).rejects.toMatchObject({ code: "deployment-exists", exitCode: 3 });
  });
});

describe("a deployment's request that is not what the deployer sends", () => {
  it("is refused as bad-deploy-request, quoting nothing of it (a password that reached the start script's input, say)", async () => {
    const { runTargetDeployment } = await import("../../../src/deploy/target/index.js");
    const { writeFile } = await import("node:fs/promises");
    for (const text of ["Tr0ub4dor-&3\n{\"id\":1}\n", `{"id":"x","Tr0ub4dor-&3":1}`, `{"mode":"Tr0ub4dor-&3"}`]) {
      const id = newDeploymentId();
      await mkdir(deployDir(id, layout), { recursive: true });
      await writeFile(join(deployDir(id, layout), "request.json"), text);
      const s = await runTargetDeployment(id, layout);
      expect(s).toMatchObject({ state: "refused", error: { code: "bad-deploy-request", exitCode: 3 } });
      expect(JSON.stringify(s), text).not.toContain("Tr0ub4dor");
    }
  });
});
