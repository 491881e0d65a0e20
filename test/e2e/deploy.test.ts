import { access, readdir, readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../../src/nix/index.js";
import { run } from "../../src/core/exec.js";
import { clientKey, DEPLOY_MACHINE_TOML, deployFleet, oscdDeploy, oscdOn, REMOTE_OSCD, tempDir, uniqueMarker, type DeployFleet } from "../harness/index.js";
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
  // A deployment's directory exists a moment before its first status is written.
  const all = await Promise.all(ids.sort().map(async (id) => readFile(`${dir}/${id}/status.json`, "utf8").catch(() => undefined)));
  return all.filter((t): t is string => t !== undefined).map((t) => JSON.parse(t) as { state: string });
}

describe("oscd deploy", () => {
  it("deploys ten hosts in parallel, each through its engine, confirmed over a new connection", async () => {
    await f.fleet.release("1.1.0");
    const r = await oscdDeploy(f.fleet, ["--json", "--parallel", "10"], { stateDir: state });
    const s = summaryOf(r.stdout);
    expect(s.hosts.map((h) => h.result), r.stderr).toEqual(NAMES.map(() => "done"));
    expect(r.exitCode).toBe(0);
    for (const h of s.hosts) expect(h).toMatchObject({ old: { generation: 1 }, new: { generation: 2, version: "1.1.0" } });
    // The shared SSH connections ended with the deploy: no host still has one open.
    for (const n of NAMES) expect((await f.byName.get(n)!.sh(["ss", "-Htn", "state", "established", "( sport = :22 )"])).stdout.trim(), n).toBe("");
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

  it("costs one Node start on the host (the detached runner, not even one to probe) and two SSH logins: the shared one and the confirmation's new one", async () => {
    const d2 = f.byName.get("d2")!;
    await f.fleet.commitHostChange("d2", `starts-${uniqueMarker()}`);
    // The host's oscd command goes through a wrapper that records every start.
    await writeFile(d2.path("/etc/oscd/counted"), '#!/bin/sh\necho "$*" >> /run/oscd-calls\nexec "$@"\n', { mode: 0o755 });
    const toml = await readFile(`${f.fleet.dir}/oscd.toml`, "utf8");
    await f.fleet.commitFile("oscd.toml", toml.replace(/(\[hosts\.d2\]\n)/, `$1oscd = "/etc/oscd/counted ${REMOTE_OSCD}"\n`), "d2: counted oscd");
    const logins = async () => (await readFile(d2.path("/run/sshd.log"), "utf8")).split("\n").filter((l) => /Accepted publickey/.test(l)).length;
    const before = await logins();
    const r = await oscdDeploy(f.fleet, ["--on", "d2", "--json"], { stateDir: state });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(summaryOf(r.stdout).hosts[0]).toMatchObject({ host: "d2", result: "done" });
    const calls = (await readFile(d2.path("/run/oscd-calls"), "utf8")).trim().split("\n").map((l) => l.replace(`${REMOTE_OSCD} `, ""));
    expect(calls).toEqual([expect.stringMatching(/^deploy-target run [0-9]{17}-[0-9a-f]{8}$/)]);
    // nix copy rides on the shared connection; the confirmation is a login of its own.
    expect((await logins()) - before).toBe(2);
    expect((await deploymentStatuses("d2")).map((x) => x.state)).toEqual(["committed", "committed"]);
    await f.fleet.commitFile("oscd.toml", toml, "d2: oscd again");
  });

  it("a host whose activation fails rolls back while the others go on; the summary says so and the exit is 4", async () => {
    await f.fleet.setHost({ name: "d3", failSwitch: true });
    await f.fleet.release("1.2.0");
    const before = await f.byName.get("d3")!.currentSystem();
    const r = await oscdDeploy(f.fleet, ["--on", "d1,d2,d3"], { stateDir: state });
    expect(r.exitCode, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/error\[hosts-rolled-back\]: 1 rolled-back of 3 host\(s\)/);
    const rows = r.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^HOST\s+RESULT\s+GENERATION\s+TIME\s+NOTE/);
    expect(rows.find((l) => l.startsWith("d1 "))).toMatch(/^d1\s+done\s+2 \(1\.1\.0\) → 3 \(1\.2\.0\)/);
    expect(rows.find((l) => l.startsWith("d3 "))).toMatch(/^d3\s+rolled-back\s+2 \(1\.1\.0\).*switch-failed: activation of .* failed and was rolled back/);
    const d3 = f.byName.get("d3")!;
    expect(await wholeGeneration(d3)).toMatchObject({ toplevel: before, consistent: true, journalOpen: false });
    expect((await deploymentStatuses("d3")).map((x) => x.state)).toEqual(["committed", "rolled-back"]);
  });

  it("--canary stops the rollout when the canary fails: the other hosts are not touched", async () => {
    await f.fleet.release("1.3.0");
    const d4 = f.byName.get("d4")!;
    const before = await d4.currentSystem();
    const r = await oscdDeploy(f.fleet, ["--on", "d3,d4,d5", "--canary", "1", "--json"], { stateDir: state });
    expect(r.exitCode, r.stderr).toBe(1);
    const s = summaryOf(r.stdout);
    expect(s.hosts.map((h) => [h.host, h.result])).toEqual([["d3", "rolled-back"], ["d4", "skipped"], ["d5", "skipped"]]);
    expect(s.stopped).toMatch(/canary d3 rolled-back/);
    expect(await d4.currentSystem()).toBe(before);
    expect(await deploymentStatuses("d4")).toHaveLength(1);
  });

  it("a connection cut after activation: the host rolls back by itself after the confirm timeout", async () => {
    const d6 = f.byName.get("d6")!;
    const before = await d6.currentSystem();
    // The new system's health check takes the host off the network, as a bad firewall rule would.
    await writeFile(d6.path("/etc/oscd/machine.toml"), DEPLOY_MACHINE_TOML.replace('commands = [', 'commands = [["ip", "link", "set", "eth0", "down"], '));
    const run = oscdDeploy(f.fleet, ["--on", "d6", "--confirm-timeout", "3", "--json"], { stateDir: state });
    let states: string[] = [];
    for (let i = 0; i < 600 && !states.includes("rolled-back"); i++) {
      await new Promise((r) => setTimeout(r, 200));
      states = (await deploymentStatuses("d6")).map((x) => x.state);
    }
    expect(states).toEqual(["committed", "rolled-back"]);
    // The host rolled back while unreachable; back on the network, the deployer learns it.
    await d6.sh(["ip", "link", "set", "eth0", "up"]);
    const r = await run;
    expect(r.exitCode, r.stderr).toBe(4);
    const h = summaryOf(r.stdout).hosts[0]!;
    expect(h).toMatchObject({ host: "d6", result: "rolled-back", error: { code: "confirm-timeout" } });
    expect(h.error?.message).toMatch(/no confirmation arrived over a new SSH connection within 3s/);
    expect(await wholeGeneration(d6)).toMatchObject({ toplevel: before, consistent: true, journalOpen: false, locked: false });
    await writeFile(d6.path("/etc/oscd/machine.toml"), DEPLOY_MACHINE_TOML);
  });

  it("a reboot while the host awaits its confirmation: the next start rolls it back", async () => {
    const d7 = f.byName.get("d7")!;
    const before = await d7.currentSystem();
    await f.fleet.commitHostChange("d7", `reboot-${uniqueMarker()}`);
    const [next] = await build(f.fleet.nixSource(await f.fleet.head()), [f.fleet.attr("d7")]);
    await d7.importFromMachine([next!.outPath]);
    const n0 = (await deploymentStatuses("d7")).length;
    const mine = async () => (await deploymentStatuses("d7")).slice(n0).map((x) => x.state);
    const started = await oscdOn(d7, ["deploy-target", "start", next!.outPath, "--host", "d7", "--release-version", "1.1.0", "--confirm-timeout", "300"]);
    expect(started.exitCode, started.stderr).toBe(0);
    const id = (JSON.parse(started.stdout) as { id: string }).id;
    let states: string[] = [];
    for (let i = 0; i < 600 && !states.includes("awaiting-confirm"); i++) {
      await new Promise((r) => setTimeout(r, 200));
      states = await mine();
    }
    expect(states).toEqual(["awaiting-confirm"]);
    expect(await d7.currentSystem()).toBe(next!.outPath);
    // The new system is the boot default; the reboot ends the waiting engine unconfirmed.
    await d7.reboot();
    expect(await d7.bootedSystem()).toBe(next!.outPath);
    const s = await oscdOn(d7, ["deploy-target", "status", id]);
    expect(JSON.parse(s.stdout)).toMatchObject({ state: "rolled-back", error: { code: "interrupted" } });
    expect(await d7.currentSystem()).toBe(before);
    expect(await d7.defaultBootToplevel()).toBe(before);
    expect(await wholeGeneration(d7)).toMatchObject({ consistent: true, journalOpen: false, locked: false });
    // A confirmation that comes after that is refused: the host stays on the old system.
    const late = await oscdOn(d7, ["deploy-target", "confirm", id]);
    expect(late.exitCode).toBe(3);
    expect(late.stderr).toMatch(/error\[confirm-too-late\]/);

    // Again, with `oscd recover` run at boot (as a boot service would) before anyone asks.
    const again = JSON.parse((await oscdOn(d7, ["deploy-target", "start", next!.outPath, "--host", "d7", "--release-version", "1.1.0", "--confirm-timeout", "300"])).stdout) as { id: string };
    for (let i = 0; i < 300 && !(await mine()).includes("awaiting-confirm"); i++) await new Promise((r) => setTimeout(r, 200));
    expect(await mine()).toEqual(["rolled-back", "awaiting-confirm"]);
    await d7.reboot();
    expect((await oscdOn(d7, ["recover"])).exitCode).toBe(0);
    expect(await d7.currentSystem()).toBe(before);
    const s2 = await oscdOn(d7, ["deploy-target", "status", again.id]);
    expect(JSON.parse(s2.stdout)).toMatchObject({ state: "rolled-back", error: { code: "interrupted", message: expect.stringMatching(/recovery: rolled-back/) } });
  });

  it("the deployer dies before confirming: the host rolls back by itself, and records and reports confirm-timeout", async () => {
    const d7 = f.byName.get("d7")!;
    const before = await d7.currentSystem();
    await f.fleet.commitHostChange("d7", `orphaned-${uniqueMarker()}`);
    const [next] = await build(f.fleet.nixSource(await f.fleet.head()), [f.fleet.attr("d7")]);
    await d7.importFromMachine([next!.outPath]);
    // Started as oscd deploy starts it; then nobody confirms, as when the deployer is killed.
    const started = await oscdOn(d7, ["deploy-target", "start", next!.outPath, "--host", "d7", "--release-version", "1.1.0", "--confirm-timeout", "2"]);
    expect(started.exitCode, started.stderr).toBe(0);
    const id = (JSON.parse(started.stdout) as { id: string }).id;
    const statusFile = d7.path(`/var/lib/oscd/deploy/${id}/status.json`);
    let state = "";
    for (let i = 0; i < 600 && !["rolled-back", "committed", "failed", "refused"].includes(state); i++) {
      await new Promise((r) => setTimeout(r, 200));
      state = (JSON.parse(await readFile(statusFile, "utf8").catch(() => "{}")) as { state?: string }).state ?? "";
    }
    const s = await oscdOn(d7, ["deploy-target", "status", id]);
    expect(JSON.parse(s.stdout)).toMatchObject({ state: "rolled-back", error: { code: "confirm-timeout", exitCode: 4, message: expect.stringMatching(/no confirmation arrived over a new SSH connection within 2s/) } });
    expect(await wholeGeneration(d7)).toMatchObject({ toplevel: before, consistent: true, journalOpen: false, locked: false });
    // The host's own record says it by code too: history, failed releases, oscd status.
    const st = JSON.parse((await oscdOn(d7, ["status", "--json"])).stdout) as { lastDeployment: { state: string; errorCode?: string }; failedReleases: { toplevel: string; code?: string }[] };
    expect(st.lastDeployment).toMatchObject({ state: "rolled-back", errorCode: "confirm-timeout" });
    expect(st.failedReleases.find((x) => x.toplevel === next!.outPath)).toMatchObject({ code: "confirm-timeout" });
    expect((await oscdOn(d7, ["status"])).stdout).toMatch(/^last\s+\S+ switch rolled-back \[confirm-timeout\]: /m);
  });

  it("secrets arrive with the right owner and mode, before or after activation, and appear in no log, process list or store", async () => {
    const d8 = f.byName.get("d8")!;
    await d8.sh(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", "app"]);
    const keys = await tempDir("e2e-deploy-keys");
    const token = `tok-${uniqueMarker()}`;
    const late = `late-${uniqueMarker()}`;
    await writeFile(`${keys}/token`, token, { mode: 0o600 });
    await writeFile(`${keys}/late`, late, { mode: 0o600 });
    const toml = await readFile(`${f.fleet.dir}/oscd.toml`, "utf8");
    await f.fleet.commitFile(
      "oscd.toml",
      `${toml}
[hosts.d8.keys.app-token]
file = "${keys}/token"
destination = "/etc/app/token"
owner = "app"
group = "app"
mode = "0440"

[hosts.d8.keys.late]
command = ["cat", "${keys}/late"]
upload = "after"
`,
      "d8: keys",
    );
    // Every process's arguments, sampled while the deploy runs (the hosts' processes included).
    const seen: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        seen.push((await run("ps", ["-eo", "args"], { timeoutMs: 10_000 })).stdout);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const r = await oscdDeploy(f.fleet, ["--on", "d8"], { stateDir: state });
    sampling = false;
    await sampler;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/d8 +│ keys +app-token → \/etc\/app\/token/);
    expect((await d8.sh(["stat", "-c", "%U %G %a", "/etc/app/token"])).stdout.trim()).toBe("app app 440");
    expect((await d8.sh(["cat", "/etc/app/token"])).stdout).toBe(token);
    // The owner can read it (its directory was made for it), others cannot.
    expect((await d8.sh(["runuser", "-u", "app", "--", "cat", "/etc/app/token"])).stdout).toBe(token);
    expect((await d8.exec(["runuser", "-u", "nobody", "--", "cat", "/etc/app/token"])).exitCode).not.toBe(0);
    expect((await d8.sh(["stat", "-c", "%U %G %a", "/run/keys/late"])).stdout.trim()).toBe("root root 400");
    expect((await d8.sh(["cat", "/run/keys/late"])).stdout).toBe(late);
    expect(seen.length).toBeGreaterThan(5);
    for (const secret of [token, late]) {
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(seen.join("\n")).not.toContain(secret);
      // Not in the host's oscd state (status, logs, journal) nor anywhere in its store.
      expect((await d8.exec(["grep", "-rlF", secret, "/var/lib/oscd", "/nix/store"])).stdout).toBe("");
    }

    // --keys-only rotates them without building or activating.
    const rotated = `tok-${uniqueMarker()}`;
    await writeFile(`${keys}/token`, rotated);
    const deployments = (await deploymentStatuses("d8")).length;
    const k = await oscdDeploy(f.fleet, ["--on", "d8", "--keys-only"], { stateDir: state });
    expect(k.exitCode, k.stderr).toBe(0);
    expect((await d8.sh(["cat", "/etc/app/token"])).stdout).toBe(rotated);
    expect((await d8.sh(["stat", "-c", "%U %G %a", "/etc/app/token"])).stdout.trim()).toBe("app app 440");
    expect(await deploymentStatuses("d8")).toHaveLength(deployments);
    expect(k.stdout + k.stderr).not.toContain(rotated);
  });

  it("--reboot reboots where the kernel changed, waits for the new boot and checks it runs the new system", async () => {
    await f.fleet.setHost({ name: "d9", kernelVersion: "6.2.0" });
    await f.fleet.release("1.4.0");
    const hosts = [f.byName.get("d9")!, f.byName.get("d10")!];
    // The test machine plays the reboot: the host's reboot command asks for it, the harness does it.
    const reboots = new Map<string, number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const h of hosts) {
          if (await access(h.path("/run/oscd-test-reboot")).then(() => true, () => false)) {
            reboots.set(h.name, (reboots.get(h.name) ?? 0) + 1);
            await h.reboot();
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const r = await oscdDeploy(f.fleet, ["--on", "d9,d10", "--reboot", "--reboot-command", "touch /run/oscd-test-reboot", "--json"], { stateDir: state });
    watching = false;
    await watcher;
    expect(r.exitCode, r.stderr).toBe(0);
    const s = summaryOf(r.stdout);
    expect(Object.fromEntries(s.hosts.map((h) => [h.host, [h.result, (h as { rebooted?: boolean }).rebooted ?? false]]))).toEqual({ d9: ["done", true], d10: ["done", false] });
    expect(Object.fromEntries(reboots)).toEqual({ d9: 1 });
    const d9 = hosts[0]!;
    expect(await d9.bootedSystem()).toMatch(/-nixos-system-d9-1\.4\.0$/);
    expect(await d9.currentSystem()).toBe(await d9.bootedSystem());
    expect(await wholeGeneration(d9)).toMatchObject({ consistent: true, journalOpen: false, locked: false });
  });

  it("refuses before building when a host is unreachable or its host key is wrong; a host already there is left alone", async () => {
    const toml = await readFile(`${f.fleet.dir}/oscd.toml`, "utf8");
    const d1 = f.byName.get("d1")!;
    const d2 = f.byName.get("d2")!;
    // d2 points at an address where nothing listens.
    await f.fleet.commitFile("oscd.toml", toml.replace(`ssh = "root@${d2.address}"`, 'ssh = "root@127.0.0.3"'), "d2: unreachable");
    const before = await d1.currentSystem();
    const down = await oscdDeploy(f.fleet, ["--on", "d1,d2"], { stateDir: state });
    expect(down.exitCode, down.stderr).toBe(1);
    expect(down.stderr).toMatch(/error\[hosts-unreachable\]: not deploying: d2 \(d2: unreachable: .*Connection refused/);
    expect(down.stderr).not.toMatch(/oscd +│ build/);
    expect(await d1.currentSystem()).toBe(before);
    await f.fleet.commitFile("oscd.toml", toml, "d2: reachable again");

    // d2's known_hosts line carries d1's key: a host pretending to be d2 is refused (exit 3).
    const known = await readFile((await clientKey()).knownHosts, "utf8");
    const d1Key = known.split("\n").find((l) => l.startsWith(`${d1.address} `))!.split(" ").slice(1).join(" ");
    const forged = known.split("\n").map((l) => (l.startsWith(`${d2.address} `) ? `${d2.address} ${d1Key}` : l)).join("\n");
    const forgedFile = `${state}/known_hosts.forged`;
    await writeFile(forgedFile, forged);
    const spoofed = await oscdDeploy(f.fleet, ["--on", "d2"], { stateDir: state, knownHosts: forgedFile });
    expect(spoofed.exitCode).toBe(3);
    expect(spoofed.stderr).toMatch(/error\[hosts-unreachable\]: not deploying: d2 .*(REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed)/);

    // Unsigned closures are copied only when asked.
    const unsigned = await oscdDeploy(f.fleet, ["--on", "d1"], { stateDir: state, unsigned: false });
    expect(unsigned.exitCode).toBe(2);
    expect(unsigned.stderr).toMatch(/error\[unsigned-copy\]: the closures would reach the hosts unsigned/);

    const first = await oscdDeploy(f.fleet, ["--on", "d1", "--json"], { stateDir: state });
    expect(first.exitCode, first.stderr).toBe(0);
    const again = await oscdDeploy(f.fleet, ["--on", "d1", "--json"], { stateDir: state });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(summaryOf(again.stdout).hosts[0]).toMatchObject({ host: "d1", result: "unchanged" });
  });

  it("--probe: the deployer's own HTTP checks gate the confirmation; a failing one rolls the host back at once", async () => {
    await f.fleet.release("1.5.0");
    const [d4, d5] = [f.byName.get("d4")!, f.byName.get("d5")!];
    for (const h of [d4, d5]) await h.sh(["sh", "-c", `nohup python3 -m http.server 8080 --bind ${h.address} --directory /run > /dev/null 2>&1 &`]);
    const ok = await oscdDeploy(f.fleet, ["--on", "d4", "--probe", "http://{address}:8080/fake-nixos/health", "--json"], { stateDir: state });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/"step":"probe","detail":"attempt 1: healthy"/);

    const before = await d5.currentSystem();
    const bad = await oscdDeploy(f.fleet, ["--on", "d5", "--probe", "http://{address}:8080/missing", "--probe-attempts", "2", "--json"], { stateDir: state });
    expect(bad.exitCode, bad.stderr).toBe(4);
    const h = summaryOf(bad.stdout).hosts[0]!;
    expect(h).toMatchObject({ host: "d5", result: "rolled-back" });
    expect(h.error?.message).toMatch(/the deployer's checks failed: probes failed: GET http:\/\/[0-9.]+:8080\/missing answered 404, expected 200/);
    expect(await wholeGeneration(d5)).toMatchObject({ toplevel: before, consistent: true, journalOpen: false });
  });

  it("a host without oscd still deploys with the bare steps, with a warning that nothing rolls back there", async () => {
    await f.fleet.commitHostChange("d10", `bare-${uniqueMarker()}`);
    // The host's own oscd setting in oscd.toml names a command it does not have.
    const toml = await readFile(`${f.fleet.dir}/oscd.toml`, "utf8");
    await f.fleet.commitFile("oscd.toml", toml.replace(/(\[hosts\.d10\]\n)/, '$1oscd = "/nonexistent/oscd"\n'), "d10: no oscd");
    const d10 = f.byName.get("d10")!;
    const generations = async () => (await d10.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--list-generations"])).stdout.trim().split("\n").length;
    const before = await generations();
    const r = await oscdDeploy(f.fleet, ["--on", "d10"], { stateDir: state });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/d10 +│ warning +oscd is not installed on the host: bare steps \(profile, switch-to-configuration\), no guards, health checks or rollback/);
    expect(r.stdout).toMatch(/^d10\s+done\s.*oscd is not installed/m);
    expect(await d10.currentSystem()).toMatch(/-nixos-system-d10-/);
    expect(await generations()).toBe(before + 1);
    expect(await wholeGeneration(d10)).toMatchObject({ consistent: true });
    await f.fleet.commitFile("oscd.toml", toml, "d10: oscd again");
  });

  it("a connection cut during the copy fails the host with that cause and leaves it untouched: no new generation, same profile and system, nothing started", async () => {
    const d8 = f.byName.get("d8")!;
    await f.fleet.commitHostChange("d8", `cut-${uniqueMarker()}`);
    const [next] = await build(f.fleet.nixSource(await f.fleet.head()), [f.fleet.attr("d8")]);
    // The host's sshd runs every command of the test key through a script that, the first time
    // Nix's daemon is asked for, kills this SSH connection after the first 1500 bytes it receives
    // (dd bs=1: passed on byte by byte, never held in a buffer).
    const keys = d8.path("/root/.ssh/authorized_keys");
    const authorized = await readFile(keys, "utf8");
    await writeFile(
      d8.path("/etc/oscd/cut-copy"),
      `#!/bin/sh
if [ "$SSH_ORIGINAL_COMMAND" = "nix-daemon --stdio" ] && [ ! -e /run/copy-cut ]; then
  touch /run/copy-cut
  session=$PPID
  { dd bs=1 count=1500 2> /dev/null; kill -9 "$session"; } | nix-daemon --stdio
  exit 1
fi
exec sh -c "$SSH_ORIGINAL_COMMAND"
`,
      { mode: 0o755 },
    );
    await writeFile(keys, `command="/etc/oscd/cut-copy" ${authorized}`, { mode: 0o600 });
    const generations = async () => (await d8.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--list-generations"])).stdout;
    const [gens, system, profile, deployments] = [await generations(), await d8.currentSystem(), await d8.sh(["readlink", "/nix/var/nix/profiles/system"]), (await deploymentStatuses("d8")).length];
    try {
      const r = await oscdDeploy(f.fleet, ["--on", "d8", "--json"], { stateDir: state });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(await access(d8.path("/run/copy-cut")).then(() => true)).toBe(true);
      const h = summaryOf(r.stdout).hosts[0]!;
      expect(h).toMatchObject({ host: "d8", result: "failed", error: { code: "copy-interrupted" } });
      expect(h.error?.message).toMatch(/^d8: the SSH connection was lost during the copy of the closure; the host's system and profile are unchanged/);
      expect(await generations()).toBe(gens);
      expect(await d8.currentSystem()).toBe(system);
      expect((await d8.sh(["readlink", "/nix/var/nix/profiles/system"])).stdout).toBe(profile.stdout);
      expect(await deploymentStatuses("d8")).toHaveLength(deployments);
      // The toplevel never became valid in the host's store: nothing half-copied can be activated.
      expect((await d8.exec(["nix-store", "--check-validity", next!.outPath])).exitCode).not.toBe(0);
    } finally {
      await writeFile(keys, authorized, { mode: 0o600 });
    }
    // The connection back, the same deploy goes through.
    const again = await oscdDeploy(f.fleet, ["--on", "d8", "--json"], { stateDir: state });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await d8.currentSystem()).toBe(next!.outPath);
  });

  it("--diff shows, before activating, what changes on the host: computed there, with the kernel change's reboot forecast", async () => {
    const d7 = f.byName.get("d7")!;
    const running = await d7.currentSystem();
    await f.fleet.setHost({ name: "d7", kernelVersion: `6.9.${Date.now() % 1000}`, marker: uniqueMarker() });
    const r = await oscdDeploy(f.fleet, ["--on", "d7", "--diff", "--json"], { stateDir: state });
    expect(r.exitCode, r.stderr).toBe(0);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; host?: string; step?: string; diff?: { from: string; to: string; changed: boolean; reboot: { needed: boolean; reasons: string[] } } });
    const diffAt = events.findIndex((e) => e.type === "diff");
    expect(diffAt, r.stdout).toBeGreaterThan(-1);
    const d = events[diffAt]!;
    expect(d).toMatchObject({ host: "d7", diff: { from: running, to: await d7.currentSystem(), changed: true, reboot: { needed: true } } });
    expect(d.diff!.reboot.reasons).toContain("kernel");
    // Shown before the activation started, not after.
    expect(events.findIndex((e) => e.type === "host" && e.host === "d7" && e.step === "activate")).toBeGreaterThan(diffAt);
    // Without a terminal, the same diff as lines naming the host.
    await f.fleet.commitHostChange("d7", `diff-text-${uniqueMarker()}`);
    const text = await oscdDeploy(f.fleet, ["--on", "d7", "--diff"], { stateDir: state });
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stderr).toMatch(/^d7 +│ diff +what changes \(running system → new system\)$/m);
    expect(text.stderr).toMatch(/^d7 +│ diff +reboot: not needed$/m);
  });
});
