import type { HostLayout } from "../activate/index.js";
import type { PublicKey } from "../nix/index.js";
import type { MachineTrust } from "../trust/index.js";
import type { Clock } from "./clock.js";
import type { AgentConfig } from "./config.js";
import type { AgentEvent, AgentStatus } from "./events.js";
import type { Candidate } from "./guards.js";
import type { Logger } from "./log.js";
import type { AgentState } from "./state.js";

/**
 * What a source (the manifest watcher, a git watcher) and the deployer see of the agent: its
 * configuration, clock and persisted state, one way to say what happened (`emit`) and one way
 * to offer a system (`offer`). They take this, not the Agent class, so the agent's loop and its
 * parts do not import each other, and a test can drive one part with a context of its own.
 */
export interface AgentContext {
  readonly host: string;
  readonly layout: HostLayout;
  readonly config: AgentConfig;
  readonly trusted: readonly PublicKey[];
  /** The trust root in force and the revocation lists (src/trust); the manifest watcher walks it. */
  readonly trust: MachineTrust;
  readonly log: Logger;
  readonly clock: Clock;
  /** Jitter source (injectable for tests). */
  readonly random: () => number;
  /** Persisted across restarts (state.ts); parts update fields and write it. */
  readonly state: AgentState;
  /** What the agent said last, so a part does not repeat an event that changes nothing. */
  readonly status: Readonly<AgentStatus>;
  now(): string;
  emit(e: AgentEvent): void;
  /** A guarded system to run; the newest offer wins. */
  offer(c: Candidate, reason: string): void;
  /** After a committed switch: note whether the new system carries another version of this agent (self-update.ts). */
  checkSelfUpdate?(toplevel: string): Promise<void>;
}
