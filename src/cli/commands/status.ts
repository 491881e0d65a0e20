import { Command } from "commander";
// The activation stage's light entry: status reads the state files, it needs none of the engine.
import { hostStatus, type HostStatus } from "../../activate/light.js";
import { existsSync } from "node:fs";
import type { AgentStatus } from "../../agent/index.js";
import { printJson, writeStdout } from "../output.js";

const DEFAULT_SOCKET = "/run/oscd/agent.sock";

/** The running agent's view when one answers on the socket; undefined when none runs. */
async function agentStatus(socket: string): Promise<AgentStatus | undefined> {
  // The agent's modules are loaded only when one may be listening: most `oscd status` runs
  // have no agent, and loading it all cost them more than the rest of the command.
  if (!existsSync(socket)) return undefined;
  try {
    const { controlRequest } = await import("../../agent/index.js");
    return ((await controlRequest(socket, "status", 5000)) as { agent: AgentStatus }).agent;
  } catch {
    return undefined;
  }
}

function oneLine(s: HostStatus, a: AgentStatus | undefined): string {
  const g = s.generation;
  const parts = [s.host, g?.version ?? "-", g?.commit?.slice(0, 12) ?? "-"];
  if (a) {
    const state = a.suspended ? "suspended" : a.deploying ? `deploying(${a.deploying.step})` : a.heldBack ? `held-back(${a.heldBack.code})` : a.drift ? "drift" : a.waiting ? "waiting" : a.lastDeployment?.outcome === "failed" ? `failed(${a.lastDeployment.code ?? ""})` : "ok";
    parts.push(state);
  } else parts.push("no-agent");
  parts.push(s.reboot.needed ? "reboot-needed" : "no-reboot");
  return parts.join(" ") + "\n";
}

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("this machine: running and booted system, generation, release, reboot need, last deployment, and the running agent's view")
    .option("--json", "print as JSON")
    .option("--oneline", "one line: host version commit agent-state reboot")
    .option("--socket <path>", "the agent's control socket", DEFAULT_SOCKET)
    .option("--server <url>", "the whole fleet as this control server sees it, instead of this machine")
    .option("--server-token-file <file>", "with --server: a file holding a token, any role (default: $OSCD_SERVER_TOKEN)")
    .addHelpText("after", "\nExamples:\n  oscd status\n  oscd status --json\n  oscd status --oneline\n  OSCD_SERVER_TOKEN=… oscd status --server https://oscd.example.org\n")
    .action(async (o: { json?: boolean; oneline?: boolean; socket: string; server?: string; serverTokenFile?: string }) => {
      if (o.server) return (await import("./status-server.js")).printServerStatus(o.server, o);
      // Which Nix this machine runs costs a `nix --version`: not asked for --oneline.
      const { nixFound, nixFoundLine } = await import("../nix-found.js");
      const [s, a, n] = await Promise.all([hostStatus(), agentStatus(o.socket), o.oneline ? undefined : nixFound()]);
      if (o.oneline || !n) {
        writeStdout(oneLine(s, a));
        return;
      }
      if (o.json) return printJson({ ...s, agent: a ?? null, nix: "nix" in n ? n.nix : null, ...("problem" in n ? { nixProblem: n.problem } : {}) });
      const out = (k: string, v: string) => writeStdout(`${k.padEnd(12)} ${v}\n`);
      out("host", s.host);
      out("running", s.currentSystem ?? "(none)");
      out("booted", s.bootedSystem ?? "(none)");
      const g = s.generation;
      out("generation", g ? `${g.generation}${g.version ? `, version ${g.version}` : ""}${g.commit ? `, commit ${g.commit.slice(0, 12)}` : ""}${g.ref ? ` (${g.ref})` : ""}` : "(none)");
      out("source", s.source ?? "(none)");
      out("reboot", s.reboot.needed ? `needed (${s.reboot.reasons.join(", ")})` : "not needed");
      out("nix", nixFoundLine(n));
      if (s.openDeployment) out("in progress", `${s.openDeployment.id} ${s.openDeployment.mode} ${s.openDeployment.toplevel} at "${s.openDeployment.state}"`);
      if (s.lastDeployment) out("last", `${s.lastDeployment.id} ${s.lastDeployment.mode} ${s.lastDeployment.state}${s.lastDeployment.errorCode ? ` [${s.lastDeployment.errorCode}]` : ""}${s.lastDeployment.error ? `: ${s.lastDeployment.error}` : ""}`);
      for (const f of s.failedReleases) out("failed", `${f.version ?? f.toplevel} at ${f.at}${f.code ? ` [${f.code}]` : ""}: ${f.reason}`);
      if (!a) {
        out("agent", "not running");
        return;
      }
      out("agent", a.suspended ? "suspended" : `running since ${a.startedAt}`);
      if (a.desired) out("desired", `${a.desired.toplevel} (${a.desired.mode}) from ${a.desired.source}: ${a.desired.reason}`);
      for (const [name, src] of Object.entries(a.sources)) out("fetch", `${name}: ${src.lastFetch ? `${src.lastFetch.status} at ${src.lastFetch.at}${src.lastFetch.detail ? `: ${src.lastFetch.detail}` : ""}` : "not yet"}`);
      if (a.deploying) out("deploying", `${a.deploying.toplevel} (${a.deploying.mode}) at ${a.deploying.step}`);
      if (a.waiting) out("waiting", a.waiting.reason);
      if (a.lastDeployment) out("deployment", `${a.lastDeployment.outcome} ${a.lastDeployment.mode} ${a.lastDeployment.toplevel} at ${a.lastDeployment.at}${a.lastDeployment.error ? `: ${a.lastDeployment.error}` : ""}`);
      if (a.heldBack) out("held back", `[${a.heldBack.code}] ${a.heldBack.reason}`);
      if (a.drift) out("drift", `since ${a.drift.since}: ${a.drift.message}`);
    });
}
