import { Command } from "commander";
import { hostStatus } from "../../activate/index.js";
import { printJson } from "../output.js";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("this machine: running and booted system, generation, release, reboot need, last deployment")
    .option("--json", "print as JSON")
    .option("--server <url>", "the whole fleet as this control server sees it, instead of this machine")
    .option("--token-file <file>", "with --server: a file holding an admin token (default: $OSCD_SERVER_TOKEN)")
    .addHelpText("after", "\nExamples:\n  oscd status\n  oscd status --json\n  OSCD_SERVER_TOKEN=… oscd status --server https://oscd.example.org\n")
    .action(async (o: { json?: boolean; server?: string; tokenFile?: string }) => {
      if (o.server) return (await import("./status-server.js")).printServerStatus(o.server, o);
      const s = await hostStatus();
      if (o.json) return printJson(s);
      const out = (k: string, v: string) => process.stdout.write(`${k.padEnd(12)} ${v}\n`);
      out("host", s.host);
      out("running", s.currentSystem ?? "(none)");
      out("booted", s.bootedSystem ?? "(none)");
      const g = s.generation;
      out("generation", g ? `${g.generation}${g.version ? `, version ${g.version}` : ""}${g.commit ? `, commit ${g.commit.slice(0, 12)}` : ""}${g.ref ? ` (${g.ref})` : ""}` : "(none)");
      out("source", s.source ?? "(none)");
      out("reboot", s.reboot.needed ? `needed (${s.reboot.reasons.join(", ")})` : "not needed");
      if (s.openDeployment) out("in progress", `${s.openDeployment.id} ${s.openDeployment.mode} ${s.openDeployment.toplevel} at "${s.openDeployment.state}"`);
      if (s.lastDeployment) out("last", `${s.lastDeployment.id} ${s.lastDeployment.mode} ${s.lastDeployment.state}${s.lastDeployment.error ? `: ${s.lastDeployment.error}` : ""}`);
      for (const f of s.failedReleases) out("failed", `${f.version ?? f.toplevel} at ${f.at}: ${f.reason}`);
    });
}
