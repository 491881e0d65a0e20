import { Command, InvalidArgumentError, Option } from "commander";
import { configFlags, controlEvents, controlRequest, describeEndpoints, flagSettings, resolveAgentConfig, runAgent, type AgentFlags, type ConfigFlag } from "../../agent/index.js";

const DEFAULT_SOCKET = "/run/oscd/agent.sock";
import { printJson, printJsonLine } from "../output.js";
import { deprecatedAlias } from "../deprecated-flags.js";
import { publicKeyArg } from "../key-args.js";
import { formatPublicKey } from "../../nix/index.js";

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

/** What a flag's value looks like, in its usage line. */
function placeholder(f: ConfigFlag): string {
  if (f.flag === "--remote") return "json|[name=]url";
  if (f.flag === "--trusted-key") return "key|file";
  if (f.kind === "json-list") return "json";
  if (f.kind === "boolean") return "true|false";
  if (f.kind === "number") return "n";
  if (f.value.includes("|")) return f.value;
  if (/-url$|^--server$/.test(f.flag)) return "url";
  if (/-(path|file|socket|dir|root)$/.test(f.flag)) return "path";
  return "value";
}

/** Every configuration key's own flag (generated from the schema): option and attribute. */
function keyOptions(): { option: Option; flag: ConfigFlag }[] {
  return configFlags().map((flag) => {
    const option = new Option(`${flag.flag} <${placeholder(flag)}>`, `${flag.paths.map((p) => p.join(".")).join(", ")}: ${flag.value}`);
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
    .addHelpText(
      "after",
      `
Every key of the configuration file has a flag of its own: its path in kebab case
(manifest.pollInterval: --manifest-poll-interval 5), a key not repeating its parent
(reboot.rebootWindow.lower: --reboot-window-lower), enable as its parent's switch
(exporter.enable: --exporter false), a list in the singular, repeated once per item
(manifest.urls: --manifest-url), a list of objects one JSON object each
(--remote '{"name":"x","url":"/srv/fleet"}', or --remote [name=]url). oscd's own names win:
trustedPublicKeys is --trusted-key, server.url --server, and --channel sets the channel
(manifest.channel, and server.channel when there is a server).
A flag replaces the file's value at its path; the rest of the file stays. --check-config
prints the effective configuration and, under
"endpoints" (not a setting), the URLs the agent will ask and what it sends: a token read from
a file shows as "Bearer <from tokenFile>"; the file is not read.

With a control server (oscd server), one setting gives both URLs and the token:
  "server": { "url": "https://oscd.example.org", "tokenFile": "/run/credentials/oscd-agent.service/server-token", "channel": "main" }

Examples:
  oscd agent --config /etc/oscd/agent.json
  oscd agent --check-config /etc/oscd/agent.json
  oscd agent --manifest-url https://cache.example.org/channels/main.json --trusted-key fleet-1:AbC…=
  oscd agent --server https://oscd.example.org --server-token-file /run/secrets/oscd-host-token --trusted-key fleet-1.public`,
    )
    .action(async (o: AgentOptions & Record<string, unknown>) => {
      // --trusted-key takes a key or a public key file, as everywhere; the configuration holds keys.
      if (Array.isArray(o.trustedKey)) o.trustedKey = await Promise.all((o.trustedKey as string[]).map(async (v) => formatPublicKey(await publicKeyArg(v))));
      const settings = flagSettings(o, (f) => byFlag.get(f.flag) as string);
      const flags: AgentFlags = { settings };
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
  // The flags' names before the naming rule, for one release (src/cli/deprecated-flags.ts).
  for (const { flag } of keyOptions()) for (const old of flag.formerly) if (!agent.options.some((x) => x.long === old)) deprecatedAlias(agent, `${old} <value>`, flag.flag);

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
