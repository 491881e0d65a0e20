/**
 * The demo: a fleet repository of three fake NixOS hosts and three simulated machines (own
 * Nix store, /run, /boot, /etc, address). Releases are tagged by `oscd release bump`; each
 * machine upgrades itself in one step with `oscd upgrade`; a bad release is rolled back by
 * its health check; closures are also signed and published to a binary cache that a
 * machine trusting only the fleet key substitutes from. It grows with each capability.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { run, type RunResult } from "../src/core/exec.js";
import { FleetRepo, GIT_ENV, OSCD_BIN, SimHost, ensureBuilt, oscdOn, tempDir } from "../test/harness/index.js";
import { FLEET_TOML, machineHost } from "../test/e2e/upgrade-helpers.js";

const out = (s: string) => process.stdout.write(s + "\n");
function step(text: string): void {
  out(`\n==> ${text}`);
}
function show(r: RunResult, indent = "    "): void {
  for (const l of (r.stdout + r.stderr).trim().split("\n")) if (l.trim()) out(indent + l);
}
async function oscdHere(cwd: string, args: string[]): Promise<RunResult> {
  const r = await run("node", [OSCD_BIN, ...args], { timeoutMs: 120_000, cwd, env: GIT_ENV });
  if (r.exitCode !== 0) throw new Error(`oscd ${args.join(" ")}: ${r.stderr}`);
  return r;
}

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("demo");
  const fleet = await FleetRepo.create({ layout: "flake", hosts: ["web1", "web2", "db1"] });
  const hosts: SimHost[] = [];
  try {
    step(`fleet repository ${fleet.dir}: hosts ${fleet.hosts.join(", ")}, VERSION 1.0.0`);
    await fleet.commitFile("oscd.toml", FLEET_TOML, "Add fleet file");
    show(await oscdHere(fleet.dir, ["release", "bump", "patch"]));

    step("three machines, each running `oscd upgrade` (no arguments: the newest release)");
    for (const name of fleet.hosts) {
      const h = await machineHost(name, fleet);
      hosts.push(h);
      const r = await oscdOn(h, ["upgrade", "--quiet"]);
      out(`  ${name} (${h.address}): exit ${r.exitCode}`);
      show(r);
    }

    step("a change to web1 is merged and released with `oscd release bump minor`");
    await fleet.commitHostChange("web1", "nginx: more workers", "web1: more nginx workers");
    show(await oscdHere(fleet.dir, ["release", "bump", "minor"]));
    const web1 = hosts[0] as SimHost;
    const r = await oscdOn(web1, ["upgrade"]);
    out(`  web1: exit ${r.exitCode}`);
    show(r);

    step("a bad release: db1's new system fails its health check, so db1 rolls back (exit 4)");
    await fleet.setHost({ name: "db1", health: "failing", marker: "bad migration" }, "db1: bad migration");
    show(await oscdHere(fleet.dir, ["release", "bump", "patch"]));
    const db1 = hosts[2] as SimHost;
    const bad = await oscdOn(db1, ["upgrade", "--quiet"]);
    out(`  db1: exit ${bad.exitCode}`);
    show(bad);
    show(await oscdOn(db1, ["status"]));

    step("web1's generations: each with its version, commit and read-only source");
    show(await oscdOn(web1, ["generations"]));

    step("central build: `oscd publish` builds every host in one evaluation, signs the closures with an `oscd keys generate` key, uploads them to a binary cache and writes the signed channel manifest");
    const keys = await oscdHere(dir, ["keys", "generate", "demo-fleet", "--json"]);
    const { secretFile, publicKey } = JSON.parse(keys.stdout) as { secretFile: string; publicKey: string };
    const cacheDir = join(dir, "cache");
    const cache = `file://${cacheDir}`;
    show(await oscdHere(fleet.dir, ["publish", "--cache", cache, "--key", secretFile, "--state-dir", join(dir, "state")]));
    const manifest = join(cacheDir, "channels", "main.json");
    show(await oscdHere(dir, ["manifest", "show", manifest]));
    step("again: the same commit uploads nothing and writes no new manifest");
    show(await oscdHere(fleet.dir, ["publish", "--cache", cache, "--key", secretFile, "--state-dir", join(dir, "state")]));

    step("a fresh web2 that trusts only the fleet key: verify the manifest, then activate its entry from the cache");
    const fresh = await SimHost.create({ name: "web2", substituters: [cache], trustedPublicKeys: [publicKey] });
    hosts.push(fresh);
    const verified = await oscdOn(fresh, ["manifest", "verify", manifest, "--key", publicKey, "--json"]);
    show(verified);
    const entry = (JSON.parse(await readFile(manifest, "utf8")) as { hosts: Record<string, { toplevel: string }> }).hosts.web2?.toplevel as string;
    const act = await oscdOn(fresh, ["activate", "--quiet", entry]);
    out(`  oscd activate → exit ${act.exitCode}`);
    show(act);
    const stranger = await SimHost.create({ name: "web2", substituters: [cache], trustedPublicKeys: ["other:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="] });
    hosts.push(stranger);
    const refused = await oscdOn(stranger, ["activate", "--quiet", entry]);
    out(`  a web2 trusting another key: exit ${refused.exitCode}`);
    show(refused);
    step("done");
  } finally {
    for (const h of hosts) await h.destroy();
    await fleet.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
