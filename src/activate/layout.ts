import { join } from "node:path";

/** Where the engine keeps its state on a host. One place, so tests and docs agree. */
export interface HostLayout {
  stateDir: string;
  profile: string;
  gcrootDir: string;
  runDir: string;
}

export const DEFAULT_LAYOUT: HostLayout = {
  stateDir: "/var/lib/oscd",
  profile: "/nix/var/nix/profiles/system",
  gcrootDir: "/nix/var/nix/gcroots/oscd",
  runDir: "/run",
};

export const files = (l: HostLayout) => ({
  lock: join(l.stateDir, "lock"),
  /** Held by every running switch-to-configuration (switch-hold.ts). */
  switchHold: join(l.stateDir, "switch.fifo"),
  journal: join(l.stateDir, "journal.json"),
  history: join(l.stateDir, "history"),
  generations: join(l.stateDir, "generations"),
  failed: join(l.stateDir, "failed.json"),
  /** Per channel, the last manifest sequence applied (replay protection). */
  channels: join(l.stateDir, "channels.json"),
  /** RFC R1.2: the read-only source of the running generation, at a fixed place. */
  source: join(l.stateDir, "source"),
  currentSystem: join(l.runDir, "current-system"),
  bootedSystem: join(l.runDir, "booted-system"),
});
