import { Command } from "commander";
import { hostStatus } from "../../activate/index.js";
import { printJson } from "../output.js";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("this machine: running and booted system, generation, release, reboot need, last deployment")
    .option("--json", "print as JSON")
    .addHelpText("after", "\nExamples:\n  oscd status\n  oscd status --json\n")
    .action(async (o: { json?: boolean }) => {
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
