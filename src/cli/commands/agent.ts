import { Command, InvalidArgumentError, Option } from "commander";
import { configFlags, controlEvents, controlRequest, describeEndpoints, flagSettings, resolveAgentConfig, runAgent, type AgentFlags, type ConfigFlag } from "../../agent/index.js";

const DEFAULT_SOCKET = "/run/oscd/agent.sock";
import { printJson, printJsonLine } from "../output.js";

const collect = (v: string, prev: string[] = []) => [...prev, v];
const number = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError("not a number");
  return n;
};

interface AgentOptions extends Omit<AgentFlags, "settings"> {
  config?: string;
  checkConfig?: string;
}

/** Every configuration key's own flag (generated from the schema): option and attribute. */
function keyOptions(): { option: Option; flag: ConfigFlag }[] {
  return configFlags().map((flag) => {
    const option = new Option(`${flag.flag} <${flag.kind === "json-list" ? "json" : flag.kind === "list" ? "value" : flag.kind === "boolean" ? "true|false" : "value"}>`, `${flag.path.join(".")}: ${flag.value}`);
    if (flag.kind === "list" || flag.kind === "json-list") option.argParser(collect);
    return { option, flag };
  });
}

export function registerAgent(program: Command): void {
  const agent = program
    .command("agent")
    .description("the pull agent: follow signed manifests and git branches, and move this machine with the activation engine")
    .option("--config <file>", "the agent's JSON configuration (written by the NixOS module)")
    .option("--check-config <file>", "validate a configuration file and print the effective configuration as JSON, with the endpoints it derives")
    .option("--manifest-url <url>", "shortcut: a channel manifest URL (file, http, https); repeat for mirrors", collect)
    .option("--channel <name>", "shortcut: the manifest channel")
    .option("--poll-interval <seconds>", "shortcut: seconds between manifest polls", number)
    .option("--trusted-public-key <key>", "shortcut: a trusted public key name:base64; repeatable", collect)
    .option("--remote <[name=]url>", "shortcut: a git remote to follow; repeatable", collect)
    .option("--no-exporter", "shortcut: no Prometheus exporter")
    .addHelpText(
      "after",
      `
Every key of the configuration file also has a flag of its own, its path in kebab case
(manifest.pollInterval: --manifest-poll-interval 5; exporter.enable: --exporter-enable false);
lists repeat the flag, lists of objects take one JSON object each (--remotes '{"name":"x","url":"/srv/fleet"}').
A flag replaces the file's value at its path; the rest of the file stays. The full flags are
applied after the shortcuts. --check-config prints the effective configuration and, under
"endpoints" (not a setting), the URLs the agent will ask and what it sends: a token read from
a file shows as "Bearer <from tokenFile>"; the file is not read.

With a control server (oscd server), one setting gives both URLs and the token:
  "server": { "url": "https://oscd.example.org", "tokenFile": "/run/credentials/oscd-agent.service/server-token", "channel": "main" }

Examples:
  oscd agent --config /etc/oscd/agent.json
  oscd agent --check-config /etc/oscd/agent.json
  oscd agent --manifest-url https://cache.example.org/channels/main.json --trusted-public-key fleet-1:AbC…=`,
    )
    .action(async (o: AgentOptions & Record<string, unknown>) => {
      const settings = flagSettings(o, (f) => byFlag.get(f.flag) as string);
      const flags: AgentFlags = { manifestUrl: o.manifestUrl, channel: o.channel, pollInterval: o.pollInterval, trustedPublicKey: o.trustedPublicKey, remote: o.remote, exporter: o.exporter, settings };
      if (o.checkConfig) {
        const config = await resolveAgentConfig(o.checkConfig, flags);
        return printJson({ ...config, endpoints: describeEndpoints(config) });
      }
      const config = await resolveAgentConfig(o.config, flags);
      await runAgent(config, program.version() ?? "unknown");
    });
  const byFlag = new Map<string, string>();
  for (const { option, flag } of keyOptions()) {
    agent.addOption(option);
    byFlag.set(flag.flag, option.attributeName());
  }

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
  // Started by the agent itself, in a transient unit, to move to a new version of itself (see
  // src/agent/self-update.ts); not for use by hand.
  agent
    .command("self-update-watch", { hidden: true })
    .description("restart the agent's unit into its new version and bring the old agent back if the new one does not answer")
    .requiredOption("--unit <name>", "the agent's unit")
    .option(...socketOption)
    .requiredOption("--state-dir <dir>", "the agent's state directory")
    .option("--timeout <seconds>", "how long the new agent has to answer", number, 120)
    .requiredOption("--previous-pid <pid>", "the pid of the agent being replaced", number)
    .argument("<previous...>", "how the previous agent was started")
    .action(async (previous: string[], c: { unit: string; socket: string; stateDir: string; timeout: number; previousPid: number }) => {
      const { selfUpdateWatch } = await import("../../agent/index.js");
      process.exitCode = await selfUpdateWatch({ unit: c.unit, socket: c.socket, stateDir: c.stateDir, timeoutSec: c.timeout, previousPid: c.previousPid, previousArgv: previous });
    });
  agent
    .command("events")
    .description("a live stream of what the agent does, one JSON object per line")
    .option(...socketOption)
    .action(async (c: { socket: string }) => {
      for await (const e of controlEvents(c.socket)) printJsonLine(e);
    });
}
