import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "../../src/core/exec.js";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../src/nix/index.js";
import { addSudoUser, deployFleet, deploySshArgs, ensureBuilt, OSCD_BIN, REPO_ROOT, tempDir, uniqueMarker, type DeployFleet } from "../harness/index.js";

/**
 * A non-root SSH user with sudo on every host: the password is asked once on the terminal for
 * all hosts and given to each `sudo -S` on stdin; the closures are signed with a key the hosts
 * trust, since their Nix takes only signed paths from an untrusted user.
 */
const PASSWORD = `pw-${uniqueMarker()}`;
const NAMES = ["s1", "s2", "s3"];
let f: DeployFleet;
let dir: string;
let keyFile: string;

beforeAll(async () => {
  dir = await tempDir("e2e-deploy-sudo");
  const key = generateSecretKey("deploy-sudo-e2e");
  keyFile = join(dir, "sign.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  f = await deployFleet(NAMES, { user: () => "deployer", trustedPublicKeys: [formatPublicKey(publicKeyOf(key))], setUp: (h) => addSudoUser(h, "deployer", PASSWORD) });
}, 600_000);

afterAll(async () => {
  await f?.destroy();
});

/** oscd deploy on a terminal, answering each sudo prompt with the next answer once it shows. */
async function deployOnTerminal(answers: string[], args: string[]): Promise<RunResult & { prompts: number }> {
  await ensureBuilt();
  const argv = ["node", OSCD_BIN, "deploy", "--repo", f.fleet.dir, "--state-dir", join(dir, "state"), "--sign-key", keyFile, ...(await deploySshArgs()), ...args];
  const r = await run("python3", [join(REPO_ROOT, "test/harness/pty-answer.py"), ...argv], { timeoutMs: 600_000, env: { PTY_PROMPT: "sudo password[^:]*: ", PTY_ANSWERS: answers.join("\n") } });
  return { ...r, prompts: Number(/pty-answer: prompts=(\d+)/.exec(r.stderr)?.[1] ?? -1) };
}

describe("oscd deploy as a sudo user", () => {
  it("asks the password once for all hosts, never shows it or puts it in a process's arguments", async () => {
    await f.fleet.release("1.1.0");
    const seen: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        seen.push((await run("ps", ["-eo", "args"], { timeoutMs: 10_000 })).stdout);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const r = await deployOnTerminal([PASSWORD], []);
    sampling = false;
    await sampler;
    expect(r.exitCode, r.stdout).toBe(0);
    expect(r.prompts).toBe(1);
    expect(r.stdout).toMatch(/s1\s+done\s+1 → 2 \(1\.1\.0\)/);
    expect(r.stdout).toMatch(/s3\s+done/);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.join("\n")).not.toContain(PASSWORD);
    for (const h of f.hosts) expect(await h.currentSystem()).toMatch(/-nixos-system-s\d-1\.1\.0$/);
  });

  it("a wrong password is asked again once; still wrong, nothing is built or copied", async () => {
    await f.fleet.release("1.2.0");
    const again = await deployOnTerminal(["not-it", PASSWORD], ["--on", "s1"]);
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.prompts).toBe(2);
    expect(again.stdout).not.toContain("not-it");

    await f.fleet.release("1.3.0");
    const before = await f.hosts[1]!.currentSystem();
    const wrong = await deployOnTerminal(["not-it", "still-not-it"], ["--on", "s2"]);
    expect(wrong.prompts).toBe(2);
    expect(wrong.exitCode).toBe(3);
    expect(wrong.stdout).toMatch(/error\[hosts-unreachable\]: not deploying: s2 \(s2: sudo refused deployer/);
    expect(wrong.stdout).not.toMatch(/still-not-it|not-it\b/);
    expect(await f.hosts[1]!.currentSystem()).toBe(before);
    expect((await f.hosts[1]!.exec(["sh", "-c", "ls /nix/store | grep -c 1.3.0 || true"])).stdout.trim()).toBe("0");
  });
});
