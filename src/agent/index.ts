/**
 * The pull agent (`oscd agent`): follows signed channel manifests and git branches, guards what
 * it reads, and moves the machine with the activation engine, in-process.
 */
export { agentConfigSchema, parseAgentConfig, loadAgentConfig, resolveAgentConfig, branchName, AgentConfigError, UrlCredentialsError, type AgentConfig, type AgentFlags, type FlagSetting, type RemoteConfig, type ManifestSourceConfig, type TimeWindow } from "./config.js";
export { Agent, type AgentOptions } from "./agent.js";
export { runAgent, AGENT_NODE_OPTIONS } from "./run.js";
export { controlRequest, controlEvents, AgentNotRunningError } from "./control-socket.js";
export type { AgentStatus, AgentEvent, SourceStatus } from "./events.js";
export { LONG_POLL_HEADER } from "./manifest-source.js";
export { configFlags, flagName, flagSettings, flagValue, type ConfigFlag, type FlagKind } from "./flags.js";
export { selfUpdateWatch, type WatchOptions } from "./self-update-watch.js";
export { serviceCommand, splitCommandLine, unitOf, readMarker, type SelfUpdateMarker } from "./self-update.js";
export { describeEndpoints, manifestEndpoints, reportTarget, TOKEN_PLACEHOLDER, TokenFileError, type ManifestEndpoint, type ReportTarget } from "./endpoints.js";
