import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../../src/nix/index.js";
import { AgentProcess, FleetRepo, SimHost, must, oscdOn, tempDir, uniqueMarker, waitFor } from "../harness/index.js";

/**
 * The agent's git source (comin parity), end to end: two SimHosts follow a local-path remote
 * (the fleet repository on the test machine, watched with file-system events); each builds its
 * own toplevel from the exact commit and activates it through the in-process engine.
 */
let fleet: FleetRepo;
const NAMES = ["g1", "g2"] as const;
const hosts = new Map<string, SimHost>();
const agents = new Map<string, AgentProcess>();

const config = (name: string) => ({ hostname: name, remotes: [{ name: "local", url: fleet.dir, poller: { period: 2 } }], exporter: { enable: false }, health: { retries: 0 } });

async function toplevelAt(commit: string, host: string): Promise<string> {
  const [b] = await build(fleet.nixSource(commit), [fleet.attr(host)]);
  return b!.outPath;
}

const deployed = (name: string, toplevel: string, mode = "switch") => agents.get(name)!.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === toplevel && l.mode === mode, 120_000, `${name} to ${mode} to ${toplevel}`);

beforeAll(async () => {
  fleet = await FleetRepo.create({ hosts: NAMES.map((name) => ({ name, marker: uniqueMarker() })) });
  for (const name of NAMES) hosts.set(name, await SimHost.create({ name }));
});

afterAll(async () => {
  for (const a of agents.values()) await a.kill("KILL").catch(() => undefined);
  for (const h of hosts.values()) await h.destroy();
  await fleet?.destroy();
});

describe("oscd agent following git branches", () => {
  let mainTop: Map<string, string>;
  /** The main commit g2 (and g1) last deployed before the rewrite. */
  let deployedMain: string;

  it("builds and switches each host to main's commit", async () => {
    const head = await fleet.head();
    mainTop = new Map(await Promise.all(NAMES.map(async (n) => [n, await toplevelAt(head, n)] as [string, string])));
    for (const name of NAMES) agents.set(name, await AgentProcess.start(hosts.get(name)!, config(name)));
    for (const name of NAMES) {
      await deployed(name, mainTop.get(name)!);
      expect(await hosts.get(name)!.currentSystem()).toBe(mainTop.get(name));
    }
  });

  it("activates a testing-<host> commit with `test` on that host only: no boot entry", async () => {
    const g1 = hosts.get("g1")!;
    const g2 = hosts.get("g2")!;
    const entries = await g1.bootEntries();
    const g2Runs = (await g2.activations()).length;
    await fleet.git(["checkout", "-q", "-b", "testing-g1"]);
    const commit = await fleet.commitHostChange("g1", uniqueMarker());
    await fleet.git(["checkout", "-q", "main"]);
    const want = await toplevelAt(commit, "g1");
    await deployed("g1", want, "test");
    expect(await g1.currentSystem()).toBe(want);
    expect(await g1.bootEntries()).toEqual(entries);
    expect(await g1.defaultBootToplevel()).toBe(mainTop.get("g1"));
    const st = JSON.parse((await oscdOn(g1, ["status", "--json"])).stdout) as { agent: { desired: { source: string; reason: string } } };
    expect(st.agent.desired.source).toBe("git:local/testing-g1");
    expect(st.agent.desired.reason).toMatch(/testing, on top of main/);
    expect((await g2.activations()).length).toBe(g2Runs);
  });

  it("refuses a main that was force-pushed (not a descendant of the deployed commit) and shows it in status", async () => {
    const g2 = hosts.get("g2")!;
    const base = await fleet.head();
    const c1 = await fleet.commitHostChange("g2", uniqueMarker());
    deployedMain = c1;
    const t1 = await toplevelAt(c1, "g2");
    await deployed("g2", t1);
    // Rewrite: main goes back to before c1 and gets another commit.
    await fleet.git(["reset", "-q", "--hard", base]);
    const rewritten = await fleet.commitHostChange("g2", uniqueMarker());
    // (The reset alone may be seen first: main at `base` is refused just the same.)
    await agents.get("g2")!.waitForLog((l) => l.event === "refused" && l.code === "git-main-rewritten" && String(l.message).includes(rewritten.slice(0, 12)), 60_000);
    const st = JSON.parse((await oscdOn(g2, ["status", "--json"])).stdout) as { agent: { heldBack: { code: string; reason: string } } };
    expect(st.agent.heldBack.code).toBe("git-main-rewritten");
    expect(st.agent.heldBack.reason).toContain(`${rewritten.slice(0, 12)}, which does not descend from ${c1.slice(0, 12)}`);
    expect(await g2.currentSystem()).toBe(t1);
  });

  /** The commit signing key and the allowed-signers file naming it. */
  let key: string;
  let signers: string;

  it("with an allowed-signers file, refuses an unsigned commit and deploys a signed one", async () => {
    const g1 = hosts.get("g1")!;
    const dir = await tempDir("agent-signers");
    key = join(dir, "signer");
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "fleet-signer", "-f", key]);
    signers = join(dir, "allowed_signers");
    await writeFile(signers, `ci@example.org ${(await readFile(`${key}.pub`, "utf8")).trim()}\n`);
    await agents.get("g1")!.kill("TERM");
    const agent = await AgentProcess.start(g1, { ...config("g1"), allowedSignersPath: signers }, { name: "agent-signed" });
    agents.set("g1", agent);
    const before = await g1.currentSystem();
    // Undo the rewrite, then an unsigned commit on main.
    await fleet.git(["reset", "-q", "--hard", deployedMain]);
    const unsigned = await fleet.commitHostChange("g1", uniqueMarker());
    const refused = await agent.waitForLog((l) => l.event === "refused" && l.code === "git-bad-signature", 60_000);
    expect(String(refused.message)).toMatch(/not signed/);
    expect(await g1.currentSystem()).toBe(before);
    await fleet.git(["-c", "gpg.format=ssh", "-c", `user.signingkey=${key}`, "commit", "-q", "--allow-empty", "-S", "-m", "signed release"]);
    const signed = await fleet.head();
    await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.source === "git:local/main", 120_000);
    const st = JSON.parse((await oscdOn(g1, ["status", "--json"])).stdout) as { generation: { commit: string }; agent: { heldBack?: unknown } };
    expect(st.generation.commit).toBe(signed);
    expect(st.agent.heldBack).toBeUndefined();
    // Only the tip is checked without requireSignedHistory: the unsigned commit rode in under it.
    expect((await fleet.git(["rev-parse", `${signed}^`])).trim()).toBe(unsigned);
  });

  it("with requireSignedHistory, an unsigned commit under a signed tip is refused, naming it; a history signed throughout deploys", async () => {
    const g1 = hosts.get("g1")!;
    await agents.get("g1")!.kill("TERM");
    const agent = await AgentProcess.start(g1, { ...config("g1"), allowedSignersPath: signers, requireSignedHistory: true }, { name: "agent-history" });
    agents.set("g1", agent);
    const before = await g1.currentSystem();
    const deployedCommit = await fleet.head();
    const sign = ["-c", "gpg.format=ssh", "-c", `user.signingkey=${key}`];
    const unsigned = await fleet.commitHostChange("g1", uniqueMarker());
    await fleet.git([...sign, "commit", "-q", "--allow-empty", "-S", "-m", "signed tip over an unsigned commit"]);
    const tip = await fleet.head();
    const refused = await agent.waitForLog((l) => l.event === "refused" && l.code === "git-unsigned-history", 60_000);
    expect(refused.message).toBe(`commit ${unsigned.slice(0, 12)}, between the deployed ${deployedCommit.slice(0, 12)} and ${tip.slice(0, 12)}, is refused: it is not signed`);
    const st = JSON.parse((await oscdOn(g1, ["status", "--json"])).stdout) as { agent: { heldBack?: { code: string; reason: string } } };
    expect(st.agent.heldBack).toMatchObject({ code: "git-unsigned-history", reason: expect.stringContaining(unsigned.slice(0, 12)) });
    expect(await g1.currentSystem()).toBe(before);
    // Without the unsigned commit, a history signed throughout deploys.
    await fleet.git(["reset", "-q", "--hard", deployedCommit]);
    await fleet.git(["config", "gpg.format", "ssh"]);
    await fleet.git(["config", "user.signingkey", key]);
    await fleet.git(["config", "commit.gpgSign", "true"]);
    try {
      await fleet.commitHostChange("g1", uniqueMarker());
      const signedTip = await fleet.commitHostChange("g1", uniqueMarker());
      const want = await toplevelAt(signedTip, "g1");
      await deployed("g1", want);
      expect(await g1.currentSystem()).toBe(want);
    } finally {
      await fleet.git(["config", "--unset", "commit.gpgSign"]);
    }
  });
});

/** A host file whose toplevel depends on a derivation that records its pid and sleeps ten minutes. */
function slowHostFile(host: string, marker: string): string {
  return `let
  slow = builtins.derivation {
    name = "slow-${marker}";
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" "echo $$ > /run/oscd-slow-build.pid; exec /bin/sleep 600" ];
  };
in {
  hostname = "${host}";
  marker = "\${slow}";
  system = "x86_64-linux";
  kernelVersion = "6.1.0";
  failSwitch = false;
  failBuild = false;
  health = "ok";
}
`;
}

/** Command lines of the host's processes that run Nix (its PID namespace's /proc). */
async function nixProcesses(h: SimHost): Promise<string[]> {
  const r = await h.sh(["sh", "-c", 'for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline" 2>/dev/null; echo; done']);
  return r.stdout.split("\n").filter((l) => /(^|\/)nix(-store|-build|-env)?\s/.test(l) || l.includes("sleep 600"));
}

/** A fleet of one host, its SimHost, and an agent following the fleet's repository, after its first deployment. */
interface OneHost {
  fleet: FleetRepo;
  host: SimHost;
  agent: AgentProcess;
}

async function oneHostAgent(name: string, extra: Record<string, unknown> = {}, made: Partial<OneHost> = {}): Promise<OneHost> {
  const fleet = (made.fleet = await FleetRepo.create({ hosts: [{ name, marker: uniqueMarker() }] }));
  const host = (made.host = await SimHost.create({ name }));
  const [first] = await build(fleet.nixSource(await fleet.head()), [fleet.attr(name)]);
  const agent = (made.agent = await AgentProcess.start(host, { hostname: name, ...extra, remotes: [{ name: "local", url: fleet.dir, poller: { period: 2 } }], exporter: { enable: false }, health: { retries: 0 } }));
  await agent.waitForLog((l) => l.event === "deployed" && l.toplevel === first!.outPath, 120_000, "the first deployment");
  return { fleet, host, agent };
}

/** Ends what oneHostAgent made, also when it failed half-way. */
async function destroyOneHost(made: Partial<OneHost>): Promise<void> {
  await made.agent?.kill("KILL").catch(() => undefined);
  await made.host?.destroy();
  await made.fleet?.destroy();
}

describe("a newer commit cancels a build in progress", () => {
  const made: Partial<OneHost> = {};
  afterAll(() => destroyOneHost(made));

  it("stops the slow build's Nix processes (and its builder) and deploys the newer commit", async () => {
    const { fleet: slowFleet, host: c1, agent } = await oneHostAgent("c1", {}, made);

    const slow = await slowFleet.commitFile("hosts/c1.nix", slowHostFile("c1", uniqueMarker()), "c1: a slow build");
    let pid = 0;
    await waitFor(async () => (pid = Number((await readFile(c1.path("/run/oscd-slow-build.pid"), "utf8").catch(() => "")).trim())) > 0, 60_000, "the slow build to start");
    expect(await c1.exec(["test", "-d", `/proc/${pid}`])).toMatchObject({ exitCode: 0 });

    // The newer commit drops the slow derivation (the marker is plain text again).
    const newer = await slowFleet.commitHostChange("c1", uniqueMarker());
    const [want] = await build(slowFleet.nixSource(newer), [slowFleet.attr("c1")]);
    await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === want!.outPath, 120_000, "the newer commit's deployment");
    const superseded = (await agent.lines()).find((l) => l.event === "superseded");
    expect(superseded).toMatchObject({ commit: slow, by: newer, phase: "build" });
    await waitFor(async () => (await c1.exec(["test", "-d", `/proc/${pid}`])).exitCode !== 0, 20_000, "the slow builder to be gone");
    expect(await nixProcesses(c1)).toEqual([]);
    expect(await c1.currentSystem()).toBe(want!.outPath);
  });
});

describe("diff = true", () => {
  const made: Partial<OneHost> = {};
  afterAll(() => destroyOneHost(made));

  it("logs, before each activation, what changes: packages, closure size and the kernel change's reboot forecast", async () => {
    const { fleet: diffFleet, host: d1, agent } = await oneHostAgent("d1", { diff: true, logLevel: "debug" }, made);
    const running = await d1.currentSystem();

    const next = await diffFleet.setHost({ name: "d1", kernelVersion: "6.6.6", marker: uniqueMarker() }, "d1: new kernel");
    const [want] = await build(diffFleet.nixSource(next), [diffFleet.attr("d1")]);
    await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === want!.outPath, 120_000, "the kernel change");
    const lines = await agent.lines();
    const diffAt = lines.findIndex((l) => l.event === "diff" && l.toplevel === want!.outPath);
    expect(diffAt, JSON.stringify(lines.map((l) => l.event))).toBeGreaterThan(-1);
    expect(lines[diffAt]).toMatchObject({ from: running, reboot: { needed: true }, closureSize: { from: expect.any(Number), to: expect.any(Number) } });
    expect((lines[diffAt]!.reboot as { reasons: string[] }).reasons).toContain("kernel");
    // Before the activation's first step, not after.
    const activating = lines.findIndex((l) => l.event === "deploying" && l.toplevel === want!.outPath && l.step !== "start");
    expect(activating).toBeGreaterThan(diffAt);
  });
});
