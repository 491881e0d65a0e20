import { Agent } from "./agent.js";
import { clockFromEnv } from "./clock.js";
import type { AgentConfig } from "./config.js";
import { agentLogger } from "./log.js";

/** Starts the agent and runs it until SIGTERM or SIGINT. */
export async function runAgent(config: AgentConfig, version: string): Promise<void> {
  const log = agentLogger(config.logLevel);
  const agent = new Agent({ config, version, log, clock: clockFromEnv() });
  await agent.start();
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ event: "stopping", signal: sig }, "stopping");
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  await agent.stop();
}
