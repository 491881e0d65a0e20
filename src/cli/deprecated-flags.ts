import { Option, type Command } from "commander";
import type { EventEmitter } from "node:events";

/** The deprecation lines a command has printed: one per old spelling, however often it is given. */
const warned = new WeakMap<Command, Set<string>>();

/**
 * An older spelling of an option, kept working for one release: hidden from help, it prints one
 * deprecation line on stderr and hands its value to the option that replaced it, which parses it
 * exactly as its own (a repeatable option collects across both spellings). `value` is for a
 * flag that took no argument and now is the new option with this value (`--no-exporter` →
 * `--exporter false`).
 */
export function deprecatedAlias(cmd: Command, flags: string, to: string, value?: string): Command {
  const target = cmd.options.find((o) => o.long === to);
  if (!target) throw new Error(`deprecatedAlias: ${cmd.name()} has no ${to}`);
  const alias = new Option(flags).hideHelp();
  if (value === undefined && !alias.required && !alias.optional) throw new Error(`deprecatedAlias: ${flags} takes no value; give the value it stands for`);
  cmd.addOption(alias);
  cmd.on(`option:${alias.name()}`, (val: string | undefined) => {
    const old = alias.long ?? flags;
    const now = value === undefined ? to : `${to} ${value}`;
    const said = warned.get(cmd) ?? new Set<string>();
    warned.set(cmd, said);
    if (!said.has(old)) {
      said.add(old);
      process.stderr.write(`oscd: warning: ${old} is deprecated; use ${now}\n`);
    }
    // Commander is an EventEmitter at run time; its types leave emit out.
    (cmd as unknown as EventEmitter).emit(`option:${target.name()}`, value ?? val);
  });
  return cmd;
}

/** Several older spellings of one option (see deprecatedAlias). */
export function deprecatedAliases(cmd: Command, to: string, ...flags: string[]): Command {
  for (const f of flags) deprecatedAlias(cmd, f, to);
  return cmd;
}

/**
 * The older spellings of the one vocabulary (docs/ARCHITECTURE.md, "One vocabulary"), by
 * command path: [old flags, the option that replaced it, the value it stands for]. Removed in
 * the release after the one that renamed them.
 */
export const DEPRECATED_FLAGS: Readonly<Record<string, readonly (readonly [string, string, string?])[]>> = {
  publish: [["--key <file>", "--sign-key"]],
  image: [["--key <file>", "--sign-key"]],
  bundle: [
    ["--key <file>", "--sign-key"],
    ["--trust <dir>", "--trust-dir"],
  ],
  "manifest verify": [["--key <key>", "--trusted-key"]],
  "manifest show": [["--key <key>", "--trusted-key"]],
  netboot: [
    ["--key <key>", "--trusted-key"],
    ["--fleet <dir>", "--repo"],
  ],
  server: [["--fleet <dir>", "--repo"]],
  status: [["--token-file <file>", "--server-token-file"]],
  // The agent's shortcut flags; its generated flags' former names are added by the agent itself.
  agent: [
    ["--poll-interval <seconds>", "--manifest-poll-interval"],
    ["--trusted-public-key <key>", "--trusted-key"],
    ["--no-exporter", "--exporter", "false"],
  ],
  init: [["--dir <dir>", "--repo"]],
  "trust verify": [["--root <file>", "--trust-root"]],
};

/** Adds the deprecated spellings of DEPRECATED_FLAGS (or `table`) to a command and its subcommands. */
export function addDeprecatedFlags(cmd: Command, path: string[] = [cmd.name()], table = DEPRECATED_FLAGS): void {
  for (const [flags, to, value] of table[path.join(" ")] ?? []) deprecatedAlias(cmd, flags, to, value);
  for (const sub of cmd.commands) addDeprecatedFlags(sub, [...path, sub.name()], table);
}
