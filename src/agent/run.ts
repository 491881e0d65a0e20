import { Agent } from "./agent.js";
import { clockFromEnv } from "./clock.js";
import type { AgentConfig } from "./config.js";
import { agentLogger } from "./log.js";

/**
 * Node options the agent's service runs with (the NixOS module's unit sets them in
 * NODE_OPTIONS; bench/agent.ts starts the agent the same way): a young generation capped at
 * 1 MB semi-spaces, so the bursts of a deployment do not leave a grown young heap behind in a
 * process that then idles for hours (measured: several MB of RSS; scavenges are cheap at this size).
 */
export const AGENT_NODE_OPTIONS = "--max-semi-space-size=1";

/** Starts the agent and runs it until SIGTERM or SIGINT. */
export async function runAgent(config: AgentConfig, version: string): Promise<void> {
  const log = agentLogger(config.logLevel);
  const agent = new Agent({ config, version, log, clock: clockFromEnv() });
  await agent.start();
  const handedOver = await new Promise<boolean>((resolve) => {
    const stop = (sig: string) => {
      log.info({ event: "stopping", signal: sig }, "stopping");
      resolve(false);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    // A new version of the agent took over (self-update.ts): this one has closed everything.
    void agent.handedOver.then(() => resolve(true));
  });
  if (handedOver) process.exit(0);
  await agent.stop();
}
