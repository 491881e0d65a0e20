import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../../src/nix/index.js";
import { AgentProcess, FleetRepo, SimHost, uniqueMarker, waitFor } from "../harness/index.js";
import { wholeGeneration } from "./upgrade-helpers.js";

/**
 * An agent killed -9 in the middle of a slow switch, on a host without systemd: the switch goes
 * on alone, and the restarted agent's recovery waits for it instead of switching beside it.
 * The fake switch logs `start`/`end` lines (test/harness/nix/switch-to-configuration.sh): they
 * must never interleave, and the host must end on a whole generation.
 */
let fleet: FleetRepo;
let host: SimHost;
const agents: AgentProcess[] = [];

const config = { hostname: "o1", remotes: [{ name: "local", url: "", poller: { period: 2 } }], exporter: { enable: false }, health: { retries: 0 } };

beforeAll(async () => {
  fleet = await FleetRepo.create({ hosts: [{ name: "o1", marker: uniqueMarker() }] });
  config.remotes[0]!.url = fleet.dir;
  host = await SimHost.create({ name: "o1" });
});
afterAll(async () => {
  for (const a of agents) await a.kill("KILL").catch(() => undefined);
  await host?.destroy();
  await fleet?.destroy();
});

async function toplevelAt(commit: string): Promise<string> {
  const [b] = await build(fleet.nixSource(commit), [fleet.attr("o1")]);
  return b!.outPath;
}

/** The switch log as [what, toplevel] pairs; throws when two switches overlap. */
async function switches(): Promise<string[]> {
  const lines = (await readFile(host.path("/run/fake-nixos/switches"), "utf8").catch(() => "")).trim().split("\n").filter(Boolean);
  let open: string | undefined;
  for (const l of lines) {
    const [what, , top] = l.split(" ");
    if (what === "start") {
      expect(open, `a switch started while ${open} ran:\n${lines.join("\n")}`).toBeUndefined();
      open = top;
    } else {
      expect(top, lines.join("\n")).toBe(open);
      open = undefined;
    }
  }
  return lines;
}

describe("oscd agent killed -9 mid-switch, without systemd", () => {
  it("the restarted agent waits for the orphaned switch before recovering: the switches never overlap and the host ends on a whole generation", async () => {
    const first = await AgentProcess.start(host, config, { name: "agent-first" });
    agents.push(first);
    const old = await toplevelAt(await fleet.head());
    await first.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === old, 180_000);
    await writeFile(host.path("/run/fake-nixos/switches"), "");

    // A slow switch: it waits for /run/fake-nixos/gate, silently.
    const slowCommit = await fleet.setHost({ name: "o1", gate: true, marker: uniqueMarker() });
    const slow = await toplevelAt(slowCommit);
    await waitFor(async () => (await switches()).includes(`start switch ${slow}`), 180_000, "the slow switch to start");
    await first.kill("KILL");
    agents.length = 0;

    const restarted = await AgentProcess.start(host, config, { name: "agent-restarted" });
    agents.push(restarted);
    await waitFor(
      async () => (await restarted.lines()).some((l) => l.event === "recover-waiting") || (await switches()).length > 1,
      120_000,
      "the restarted agent to wait, or to switch",
    );
    expect(await switches()).toEqual([`start switch ${slow}`]);
    expect(String((await restarted.lines()).find((l) => l.event === "recover-waiting")?.msg)).toMatch(/waiting for the switch of an interrupted deployment to end: switch-to-configuration holding \/var\/lib\/oscd\/switch\.fifo \(pid \d+/);

    await writeFile(host.path("/run/fake-nixos/gate"), "");
    // The orphan ends; recovery rolls its deployment back (a crash is not the release's fault),
    // and the agent deploys the release again, this time to the end.
    expect((await restarted.waitForLog((l) => l.event === "recovered", 120_000)).outcome).toBe("rolled-back");
    await restarted.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === slow, 180_000);
    expect(await switches()).toEqual([`start switch ${slow}`, `end switch ${slow}`, `start switch ${old}`, `end switch ${old}`, `start switch ${slow}`, `end switch ${slow}`]);
    expect(await wholeGeneration(host)).toEqual({ toplevel: slow, consistent: true, journalOpen: false, locked: false });
  });
});
