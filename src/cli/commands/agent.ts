import { Command, InvalidArgumentError } from "commander";
import { controlEvents, controlRequest, resolveAgentConfig, runAgent, type AgentFlags } from "../../agent/index.js";

const DEFAULT_SOCKET = "/run/oscd/agent.sock";
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
      const config = await resolveAgentConfig(file, flags);
      await runAgent(config, program.version() ?? "unknown");
    });

  const socketOption = ["--socket <path>", "the agent's control socket", DEFAULT_SOCKET] as const;
  for (const [name, description] of [
    ["fetch", "check the sources now"],
    ["suspend", "stop deploying until resumed (fetching and status go on)"],
    ["resume", "deploy again"],
  ] as const) {
    agent
      .command(name)
      .description(description)
      .option(...socketOption)
      .option("--json", "print the answer as JSON")
      .action(async (c: { socket: string; json?: boolean }) => {
        const r = await controlRequest(c.socket, name);
        if (c.json) printJson(r);
        else process.stdout.write(`${name}: ok\n`);
      });
  }
  agent
    .command("events")
    .description("a live stream of what the agent does, one JSON object per line")
    .option(...socketOption)
    .action(async (c: { socket: string }) => {
      for await (const e of controlEvents(c.socket)) process.stdout.write(JSON.stringify(e) + "\n");
    });
}
