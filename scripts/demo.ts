/**
 * The demo: a fleet of three simulated NixOS hosts (Linux namespaces, each with its own Nix
 * store), the control server and an agent on each host; then, as a story: a labelled pull
 * request becomes a tag, a signed release and a staged rollout the hosts follow live; a host
 * fetches that release's iPXE script, kernel and initrd from the server by its token; a release
 * that breaks one host's health check halts at its canary and rolls back; a push deploy of a
 * testing change over SSH is confirmed (magic rollback). The pieces live in scripts/demo/.
 *
 * Usage: scripts/demo.sh [--keep | --no-keep] [--facts FILE]
 *   --keep     keep the fleet and the dashboard running until Ctrl-C (default in a terminal)
 *   --no-keep  end and clean up right after the story (default otherwise)
 *   --facts    write where the hosts, server and repositories are, and what the story claims
 */
import { badRelease, dashboard, introduce, labelledRelease, pushDeploy, type Claims } from "./demo/steps.js";
import { netboot } from "./demo/netboot.js";
import { heading, note, reportFailure } from "./demo/story.js";
import { parseArgs, type DemoOptions } from "./demo/options.js";
import { Watcher } from "./demo/watch.js";
import { buildWorld, Cleanup, writeFacts, type World } from "./demo/world.js";

async function main(): Promise<number> {
  let opts: DemoOptions;
  try {
    opts = parseArgs(process.argv.slice(2), process.stdout.isTTY === true);
  } catch (e) {
    process.stderr.write(`demo: ${(e as Error).message}\n`);
    return 2;
  }
  const cleanup = new Cleanup();
  let stopping: Promise<void> | undefined;
  // Ctrl-C at any moment (a step, or the --keep wait) cleans up once, then exits.
  const stop = (code: number) => {
    stopping ??= (async () => {
      process.stdout.write("\n   cleaning up: agents, hosts, namespaces, server, temporary folders…\n");
      await cleanup.run();
      process.stdout.write("   done.\n");
      process.exit(code);
    })();
  };
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  process.on("SIGHUP", () => stop(0));

  const claims: Claims = {};
  let world: World | undefined;
  try {
    world = await buildWorld(cleanup);
    const watch = new Watcher(world.agents, world.server);
    cleanup.add(async () => watch.stop());
    introduce(world);
    const first = await labelledRelease(world, watch, claims);
    claims.netboot = await netboot(world, first.manifest, first.tag);
    await badRelease(world, watch, claims);
    await pushDeploy(world, watch, claims);
    dashboard(world, opts.keep);
    if (opts.facts) await writeFacts(opts.facts, world, { ...claims });
  } catch (e) {
    // Interrupted: the step failed because its hosts are going away; cleanup exits for us.
    if (stopping) return new Promise<never>(() => setInterval(() => undefined, 60_000));
    reportFailure(e);
    if (opts.facts && world) await writeFacts(opts.facts, world, { ...claims, failed: e instanceof Error ? e.message : String(e) }).catch(() => undefined);
    await cleanup.run();
    return 1;
  }
  if (opts.keep) {
    heading("Running until Ctrl-C");
    note("the hosts, agents and server stay up; Ctrl-C stops and removes them all");
    // A timer keeps Node running; the signal handlers end it.
    await new Promise<never>(() => setInterval(() => undefined, 60_000));
  }
  note("not kept running (stdout is not a terminal; --keep keeps it): cleaning up…");
  await cleanup.run();
  note("done.");
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    reportFailure(e);
    process.exit(1);
  },
);
