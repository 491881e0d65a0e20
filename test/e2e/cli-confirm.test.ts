import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "../../src/core/exec.js";
import { ensureBuilt, FleetRepo, OSCD_BIN, REPO_ROOT, tempDir } from "../harness/index.js";
import { inputFleet, PkgsRepo } from "../harness/input-fleet.js";
import { oscd } from "../integration/builder/helpers.js";

/**
 * Before acting on every host (no --on) or pushing a merged update, oscd asks, but only a
 * person at a terminal: on a pseudo-terminal the question shows and "n" stops the command before
 * anything is touched; --yes, a selection, or no terminal at all (CI) go ahead as before.
 */
let dir: string;
let fleet: FleetRepo;
const rootsDir = "/nix/var/nix/gcroots/oscd-tests-e2e-confirm";
const DEPLOY_QUESTION = "every host: [^?]*\\? \\[y/N\\] ";

beforeAll(async () => {
  await ensureBuilt();
  dir = await tempDir("e2e-confirm");
  // Hosts no SSH reaches: a deploy that goes ahead fails at "reach", after the question.
  fleet = await FleetRepo.create({ hosts: ["cf1", "cf2"] });
  await fleet.commitFile("oscd.toml", `[hosts.cf1]\nssh = "root@127.0.0.1:1"\n[hosts.cf2]\nssh = "root@127.0.0.1:1"\n`);
});

afterAll(async () => {
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootsDir, { recursive: true, force: true });
});

/** oscd on a pseudo-terminal, answering each prompt matching `prompt` with the next answer. */
async function onTerminal(args: string[], prompt: string, answers: string[]): Promise<RunResult & { prompts: number }> {
  const r = await run("python3", [join(REPO_ROOT, "test/harness/pty-answer.py"), "node", OSCD_BIN, ...args], {
    timeoutMs: 300_000,
    cwd: fleet.dir,
    env: { PTY_PROMPT: prompt, PTY_ANSWERS: answers.join("\n"), NO_COLOR: "1" },
  });
  return { ...r, prompts: Number(/pty-answer: prompts=(\d+)/.exec(r.stderr)?.[1] ?? -1) };
}

let deployArgs: string[] = [];
beforeAll(() => {
  deployArgs = ["deploy", "--state-dir", join(dir, "deploy-state"), "--roots-dir", rootsDir, "--no-check-sigs"];
});

describe("oscd deploy with no --on", () => {
  it("asks on a terminal; n stops it before any host is reached", async () => {
    const r = await onTerminal(deployArgs, DEPLOY_QUESTION, ["n"]);
    expect(r.prompts, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/Deploy main \([0-9a-f]{12}\) with switch to every host: 2 hosts \(cf1, cf2\)\? \[y\/N\]/);
    expect(r.stdout).toMatch(/oscd: error\[not-confirmed\]: nothing done: deploying to every host was not confirmed/);
    expect(r.stdout).not.toMatch(/│ reach /);
    expect(r.exitCode).toBe(1);
  });

  it("y goes ahead (here to hosts no SSH reaches)", async () => {
    const r = await onTerminal(deployArgs, DEPLOY_QUESTION, ["y"]);
    expect(r.prompts).toBe(1);
    expect(r.stdout).toMatch(/│ reach /);
    expect(r.stdout).toMatch(/error\[hosts-unreachable\]/);
  });

  it("--yes, --on, or no terminal: nothing is asked, the deploy goes ahead as before", async () => {
    for (const extra of [["--yes"], ["--on", "cf1"]]) {
      const r = await onTerminal([...deployArgs, ...extra], DEPLOY_QUESTION, ["n"]);
      expect(r.prompts, extra.join(" ")).toBe(0);
      expect(r.stdout).toMatch(/error\[hosts-unreachable\]/);
    }
    const piped: RunResult = await oscd(deployArgs, { cwd: fleet.dir });
    expect(piped.stderr).not.toMatch(/\[y\/N\]/);
    expect(piped.stderr).toMatch(/error\[hosts-unreachable\]/);
  });
});

describe("oscd update --merge --push", () => {
  it("asks on a terminal before anything is updated; n leaves every branch as it was", async () => {
    const pkgs = await PkgsRepo.create({ nginxVersion: "1.24.0" });
    const input = await inputFleet("flake", pkgs);
    try {
      await pkgs.commit({ nginxVersion: "1.25.0" }, "pkgs: new nginx");
      const before = await input.git(["for-each-ref", "--format=%(refname) %(objectname)"]);
      const r = await run("python3", [join(REPO_ROOT, "test/harness/pty-answer.py"), "node", OSCD_BIN, "update", "--repo", input.dir, "--state-dir", join(dir, "update-state"), "--roots-dir", rootsDir, "--merge", "--push"], {
        timeoutMs: 300_000,
        env: { PTY_PROMPT: "push it to origin\\? \\[y/N\\] ", PTY_ANSWERS: "n", NO_COLOR: "1" },
      });
      expect(r.stderr).toMatch(/prompts=1/);
      expect(r.stdout).toMatch(/error\[not-confirmed\]/);
      expect(r.exitCode).toBe(1);
      expect(await input.git(["for-each-ref", "--format=%(refname) %(objectname)"])).toBe(before);
    } finally {
      await input.destroy();
      await pkgs.destroy();
    }
  });
});
