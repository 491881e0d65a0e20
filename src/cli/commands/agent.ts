import { Command, InvalidArgumentError } from "commander";
import { resolveAgentConfig, type AgentFlags } from "../../agent/index.js";
import { printJson } from "../output.js";

const collect = (v: string, prev: string[] = []) => [...prev, v];
const number = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError("not a number");
  return n;
};

interface AgentOptions extends AgentFlags {
  config?: string;
  checkConfig?: string;
}

export function registerAgent(program: Command): void {
  const agent = program
    .command("agent")
    .description("the pull agent: follow signed manifests and git branches, and move this machine with the activation engine")
    .option("--config <file>", "the agent's JSON configuration (written by the NixOS module)")
    .option("--check-config <file>", "validate a configuration file and print the effective configuration as JSON")
    .option("--hostname <name>", "this machine's name in the fleet")
    .option("--state-dir <dir>", "state directory")
    .option("--manifest-url <url>", "a channel manifest URL (file, http, https); repeat for mirrors", collect)
    .option("--channel <name>", "the manifest channel")
    .option("--poll-interval <seconds>", "seconds between manifest polls", number)
    .option("--trusted-public-key <key>", "a trusted public key name:base64; repeatable", collect)
    .option("--remote <[name=]url>", "a git remote to follow; repeatable", collect)
    .option("--control-socket <path>", "the control socket")
    .option("--exporter-port <port>", "Prometheus exporter port", number)
    .option("--no-exporter", "no Prometheus exporter")
    .addHelpText(
      "after",
      `
Examples:
  oscd agent --config /etc/oscd/agent.json
  oscd agent --check-config /etc/oscd/agent.json
  oscd agent --manifest-url https://cache.example.org/channels/main.json --trusted-public-key fleet-1:AbC…=`,
    )
    .action(async (o: AgentOptions) => {
      if (o.checkConfig) {
        const { checkConfig: file, config: _config, ...flags } = o;
        return printJson(await resolveAgentConfig(file, flags));
      }
      const { checkConfig: _c, config: file, ...flags } = o;
      await resolveAgentConfig(file, flags);
      throw new Error("running the agent is not built yet");
    });
  void agent;
}
