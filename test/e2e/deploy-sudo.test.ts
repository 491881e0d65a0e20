import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "../../src/core/exec.js";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../src/nix/index.js";
import { addSudoUser, deployFleet, deploySshArgs, ensureBuilt, OSCD_BIN, pidNamespace, REPO_ROOT, sampleProcesses, tempDir, uniqueMarker, type DeployFleet } from "../harness/index.js";

/**
 * A non-root SSH user with sudo on every host: s1 and s2 ask for its password, s3 does not
 * (NixOS `security.sudo.wheelNeedsPassword = false`). The password is asked once on the
 * terminal, sent only to the hosts whose sudo asks for it, framed so that a line sudo did not
 * read is dropped; the closures are signed with a key the hosts trust, since their Nix takes
 * only signed paths from an untrusted user.
 */
const PASSWORD = `pw-${uniqueMarker()}`;
const NAMES = ["s1", "s2", "s3"];
const NOPASSWD = "s3";
let f: DeployFleet;
let dir: string;
let keyFile: string;

beforeAll(async () => {
  dir = await tempDir("e2e-deploy-sudo");
  const key = generateSecretKey("deploy-sudo-e2e");
  keyFile = join(dir, "sign.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  f = await deployFleet(NAMES, {
    user: () => "deployer",
    trustedPublicKeys: [formatPublicKey(publicKeyOf(key))],
    setUp: (h) => addSudoUser(h, "deployer", PASSWORD, { nopasswd: h.name === NOPASSWD }),
  });
}, 600_000);

afterAll(async () => {
  await f?.destroy();
});

/** oscd deploy on a terminal, answering each sudo prompt with the next answer once it shows. */
async function deployOnTerminal(answers: string[], args: string[]): Promise<RunResult & { prompts: number }> {
  await ensureBuilt();
  const argv = ["node", OSCD_BIN, "deploy", "--repo", f.fleet.dir, "--state-dir", join(dir, "state"), "--sign-key", keyFile, ...(await deploySshArgs()), ...args];
  const r = await run("python3", [join(REPO_ROOT, "test/harness/pty-answer.py"), ...argv], { timeoutMs: 600_000, env: { PTY_PROMPT: "sudo password[^:]*: ", PTY_ANSWERS: answers.join("\n"), NO_COLOR: "1" } });
  return { ...r, prompts: Number(/pty-answer: prompts=(\d+)/.exec(r.stderr)?.[1] ?? -1) };
}

/** Files on a host that hold `text`: its own state, keys, logs, home and the store's logs. */
async function filesHolding(host: string, text: string): Promise<string[]> {
  const h = f.byName.get(host)!;
  const r = await h.exec(["grep", "-rlF", "--devices=skip", "--", text, "/var/lib/oscd", "/run", "/root", "/etc/home", "/etc/app", "/nix/var"]);
  return r.stdout.trim().split("\n").filter(Boolean);
}

describe("oscd deploy as a sudo user", () => {
  it("one deploy over NOPASSWD and password hosts: asked once, sent only where sudo asks, in no file, argv, environment or log on any host", async () => {
    // A key for a password host and for the NOPASSWD one: an uploaded secret must not begin with the password.
    const keys = await tempDir("e2e-deploy-sudo-keys");
    const token = `tok-${uniqueMarker()}`;
    await writeFile(join(keys, "token"), token, { mode: 0o600 });
    const toml = await readFile(join(f.fleet.dir, "oscd.toml"), "utf8");
    await f.fleet.commitFile(
      "oscd.toml",
      `${toml}\n${["s1", NOPASSWD].map((h) => `[hosts.${h}.keys.app-token]\nfile = "${keys}/token"\ndestination = "/etc/app/token"\n`).join("\n")}`,
      "keys for a password host and a NOPASSWD host",
    );
    await f.fleet.release("1.1.0");
    const namespaces = await Promise.all(f.hosts.map(pidNamespace));
    const sampler = sampleProcesses([PASSWORD], namespaces);
    // Every host, on a terminal: --yes answers the confirmation oscd asks before acting on all of them.
    const r = await deployOnTerminal([PASSWORD], ["--yes"]);
    const sample = await sampler.stop();
    expect(r.exitCode, r.stdout).toBe(0);
    expect(r.prompts).toBe(1);
    expect(r.stdout).toMatch(/s1\s+done\s+1 → 2 \(1\.1\.0\)/);
    expect(r.stdout).toMatch(/s3\s+done\s+1 → 2 \(1\.1\.0\)/);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    for (const h of f.hosts) expect(await h.currentSystem()).toMatch(/-nixos-system-s\d-1\.1\.0$/);
    // The keys are exactly the secret, nothing before it.
    for (const h of ["s1", NOPASSWD]) expect(await readFile(f.byName.get(h)!.path("/etc/app/token"), "utf8")).toBe(token);
    // Sampled while the deploy ran: every process's argv, and the hosts' processes' environments.
    expect(sample.rounds).toBeGreaterThan(5);
    expect(sample.found).toEqual({ argv: [], environ: [] });
    // No file on any host: keys, deployment requests, status files, runner logs, the engine's
    // journal and history, sshd's and nix-daemon's logs.
    for (const h of NAMES) expect(await filesHolding(h, PASSWORD), h).toEqual([]);
    // Where sudo asks for nothing, the deployment's request is the JSON the deployer sent.
    const s3 = f.byName.get(NOPASSWD)!;
    const ids = (await s3.sh(["ls", "/var/lib/oscd/deploy"])).stdout.trim().split("\n");
    const request = await readFile(s3.path(`/var/lib/oscd/deploy/${ids.at(-1)}/request.json`), "utf8");
    expect(request.startsWith("{")).toBe(true);
  });

  it("a NOPASSWD host alone: no password is asked", async () => {
    await f.fleet.release("1.1.1");
    const r = await deployOnTerminal([PASSWORD], ["--on", NOPASSWD]);
    expect(r.exitCode, r.stdout).toBe(0);
    expect(r.prompts).toBe(0);
    expect(await f.byName.get(NOPASSWD)!.currentSystem()).toMatch(/-1\.1\.1$/);
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
