/**
 * The headings of `oscd --help`: commands grouped by where and by whom they are run, instead
 * of one flat list. A test checks that every command has a group, so a new one is placed.
 */
export const HELP_GROUPS = {
  machine: "On a machine:",
  fleet: "Fleet and CI:",
  server: "Control server:",
  inspection: "Inspection:",
  setup: "Setup:",
} as const;

export const COMMAND_GROUPS: Readonly<Record<string, keyof typeof HELP_GROUPS>> = {
  activate: "machine",
  upgrade: "machine",
  rollback: "machine",
  generations: "machine",
  status: "machine",
  recover: "machine",
  agent: "machine",
  gc: "machine",
  build: "fleet",
  publish: "fleet",
  deploy: "fleet",
  bundle: "fleet",
  image: "fleet",
  netboot: "fleet",
  release: "fleet",
  update: "fleet",
  server: "server",
  rollout: "server",
  option: "inspection",
  diff: "inspection",
  impact: "inspection",
  manifest: "inspection",
  init: "setup",
  keys: "setup",
  trust: "setup",
  schema: "setup",
  completion: "setup",
};

/** Internal commands, run by oscd itself (deploy-target is what `oscd deploy` runs over SSH). */
export const HIDDEN_COMMANDS: ReadonlySet<string> = new Set(["deploy-target"]);

export function helpGroupOf(name: string): string | undefined {
  const g = COMMAND_GROUPS[name];
  return g === undefined ? undefined : HELP_GROUPS[g];
}
