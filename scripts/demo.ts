/**
 * The demo: a fleet repository of three fake NixOS hosts is built once, its closures signed
 * with a key made by `oscd keys generate` and copied to a file binary cache; three simulated
 * hosts, each trusting only that key, substitute their own toplevel, set their system
 * profile and switch. It grows with each capability of oscd.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../src/core/exec.js";
import { build, copyTo, signPaths, pathInfo } from "../src/nix/index.js";
import { FleetRepo, SimHost, tempDir } from "../test/harness/index.js";

const oscd = join(import.meta.dirname, "..", "bin", "oscd.js");

function step(text: string): void {
  process.stdout.write(`\n==> ${text}\n`);
}

async function main(): Promise<void> {
  const dir = await tempDir("demo");
  const fleet = await FleetRepo.create({ layout: "flake", hosts: ["web1", "web2", "db1"] });
  const hosts: SimHost[] = [];
  try {
    step(`fleet repository ${fleet.dir} (hosts: ${fleet.hosts.join(", ")})`);
    const commit = await fleet.head();

    step("oscd keys generate demo-fleet");
    const keys = await run("node", [oscd, "keys", "generate", "demo-fleet", "--json"], { timeoutMs: 30_000, cwd: dir });
    if (keys.exitCode !== 0) throw new Error(keys.stderr);
    const { secretFile, publicKey } = JSON.parse(keys.stdout) as { secretFile: string; publicKey: string };
    process.stdout.write(`public key: ${publicKey}\n`);

    step(`building every host in one evaluation at ${commit.slice(0, 12)}`);
    const built = await build(fleet.nixSource(commit), fleet.hosts.map((h) => fleet.attr(h)));
    const sizes = await pathInfo(built.map((b) => b.outPath), { closureSize: true });
    built.forEach((b, i) => process.stdout.write(`  ${fleet.hosts[i]?.padEnd(6)} ${b.outPath}  closure ${sizes[i]?.closureSize ?? 0} bytes\n`));

    const cache = `file://${join(dir, "cache")}`;
    step(`signing and copying closures to ${cache}`);
    await copyTo(cache, built.map((b) => b.outPath));
    await signPaths(built.map((b) => b.outPath), secretFile, { store: cache, recursive: true });

    step("starting simulated hosts (own /nix, /run, /boot, /etc, address) and switching each");
    for (const [i, name] of fleet.hosts.entries()) {
      const h = await SimHost.create({ name, substituters: [cache], trustedPublicKeys: [publicKey] });
      hosts.push(h);
      const toplevel = built[i]?.outPath as string;
      await h.sh(["nix-store", "--realise", toplevel, "--max-jobs", "0"]);
      await h.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", toplevel]);
      await h.sh([`${toplevel}/bin/switch-to-configuration`, "switch"]);
      const version = (await readFile(join(toplevel, "nixos-version"), "utf8")).trim();
      process.stdout.write(`  ${name.padEnd(6)} ${h.address.padEnd(14)} /run/current-system -> ${await h.currentSystem()} (NixOS ${version})\n`);
    }

    step("a host that trusts another key refuses the same closure");
    const stranger = await SimHost.create({ name: "stranger", substituters: [cache], trustedPublicKeys: ["other:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="] });
    hosts.push(stranger);
    const refused = await stranger.exec(["nix-store", "--realise", built[0]?.outPath as string, "--max-jobs", "0"]);
    process.stdout.write(`  stranger: exit ${refused.exitCode}: ${refused.stderr.split("\n").find((l) => /signed/.test(l))?.trim() ?? refused.stderr.trim()}\n`);
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
