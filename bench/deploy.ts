/**
 * `oscd deploy` to 1, 10 and 20 SimHosts (switch, confirmed over a new SSH connection) against
 * a sequential loop of the bare commands doing the same work per host (`nix copy` over
 * ssh-ng, `ssh … nix-env --set`, `ssh … switch-to-configuration switch`), in the same run.
 * Each side deploys a release of its own, so each copies a new toplevel to every host.
 *
 *   npx tsx bench/deploy.ts [sizes…]       (default: 1 10 20)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../src/core/exec.js";
import { build } from "../src/nix/index.js";
import { clientKey, deployFleet, ensureBuilt, oscdDeploy, type DeployFleet } from "../test/harness/index.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";
import { timed } from "./_signed-host.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);

async function bareLoop(f: DeployFleet): Promise<number> {
  const tops = await build(f.fleet.nixSource(await f.fleet.head()), f.hosts.map((h) => f.fleet.attr(h.name)));
  const key = await clientKey();
  const ssh = ["-i", key.privateKey, "-o", `UserKnownHostsFile=${key.knownHosts}`, "-o", "BatchMode=yes"];
  return timed(async () => {
    for (const [i, h] of f.hosts.entries()) {
      const top = tops[i]!.outPath;
      const steps = [
        () => run("nix", ["copy", "--no-check-sigs", "--to", `ssh-ng://root@${h.address}`, top], { timeoutMs: 600_000, env: { NIX_SSHOPTS: ssh.join(" ") } }),
        () => run("ssh", [...ssh, `root@${h.address}`, `nix-env -p /nix/var/nix/profiles/system --set ${top}`], { timeoutMs: 600_000 }),
        () => run("ssh", [...ssh, `root@${h.address}`, `${top}/bin/switch-to-configuration switch`], { timeoutMs: 600_000 }),
      ];
      // One after another, as a shell loop would.
      for (const step of steps) {
        const r = await step();
        if (r.exitCode !== 0) throw new Error(`${h.name}: ${r.command.join(" ")}: ${r.stderr}`);
      }
    }
  });
}

async function main(): Promise<void> {
  // The CLI is built before anything is timed (the harness builds it on first use otherwise).
  await ensureBuilt();
  const rows: string[][] = [];
  for (const n of sizes.length ? sizes : [1, 10, 20]) {
    const f = await deployFleet(Array.from({ length: n }, (_, i) => `b${i + 1}`));
    const state = await mkdtemp(join(tmpdir(), "oscd-bench-deploy-"));
    try {
      await f.fleet.release("1.1.0");
      const bare = await bareLoop(f);
      await f.fleet.release("1.2.0");
      // oscd builds too (pin, one evaluation, build of what is missing): the bare loop got its paths prebuilt.
      await build(f.fleet.nixSource(await f.fleet.head()), f.hosts.map((h) => f.fleet.attr(h.name)));
      const oscd = await timed(() => oscdDeploy(f.fleet, ["--parallel", "10", "--json"], { stateDir: state }));
      rows.push([String(n), bare.toFixed(0), oscd.toFixed(0), (oscd / bare).toFixed(2)]);
    } finally {
      await f.destroy();
      await rm(state, { recursive: true, force: true });
    }
  }
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(6) : c.padStart(16))).join(" ");
  console.log("\npush deploy (switch) to N SimHosts: oscd deploy --parallel 10 against a sequential loop of bare commands\n");
  console.log(row(["hosts", "bare loop ms", "oscd deploy ms", "oscd / bare"]));
  for (const r of rows) console.log(row(r));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
