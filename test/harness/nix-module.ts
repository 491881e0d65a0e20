import { join } from "node:path";
import { run } from "../../src/core/exec.js";
import { REPO_ROOT } from "./oscd.js";

/**
 * nix/module.nix evaluated with the stand-in module system (test/harness/nix/module-system.nix):
 * `settings` are the user's definitions of `services.oscd` (the machine and `agent`).
 */
const STAND_IN = join(REPO_ROOT, "test", "harness", "nix", "module-system.nix");
const MODULE = join(REPO_ROOT, "nix", "module.nix");

export interface OptionDoc {
  path: string;
  description: string | null;
  hasDefaultText: boolean;
  hasExample: boolean;
  readOnly: boolean;
  default: { success: boolean; value?: string };
}

export interface Evaluated {
  unit: null | { serviceConfig: Record<string, unknown>; wantedBy: string[]; restartIfChanged: boolean; stopIfChanged: boolean; after: string[]; path: string[]; startLimitBurst: number; startLimitIntervalSec: number };
  systemPackages: string[];
  etc: Record<string, { source: string }>;
  nixSettings: null | Record<string, string[]>;
  firewallPorts: number[];
  tmpfiles: string[];
  failedAssertions: string[];
  warnings: string[];
  configFile: string | null;
  configText: string | null;
  checkCommand: string | null;
  machineFile: string;
  machineSettings: Record<string, unknown>;
  options: OptionDoc[];
}

export interface EvalOptions {
  hostName?: string;
  nixEnable?: boolean;
  canExecute?: boolean;
}

/** The module with `settings` as the user's definitions of `services.oscd`; an evaluation error is thrown with its first error line. */
export async function evaluateModule(settings: Record<string, unknown>, o: EvalOptions = {}): Promise<Evaluated> {
  const expr = `{ settingsJson, hostName, nixEnable, canExecute }: import ${STAND_IN} { module = ${MODULE}; settings = builtins.fromJSON settingsJson; inherit hostName; nixEnable = nixEnable == "1"; canExecute = canExecute == "1"; }`;
  const args = ["--eval", "--strict", "--json", "-E", expr, "--argstr", "settingsJson", JSON.stringify(settings), "--argstr", "hostName", o.hostName ?? "web1"];
  args.push("--argstr", "nixEnable", o.nixEnable === false ? "0" : "1", "--argstr", "canExecute", o.canExecute === false ? "0" : "1");
  const r = await run("nix-instantiate", args, { timeoutMs: 60_000 });
  // Nix's whole message: from 2.20 the first line is a bare `error:`, the option's complaint
  // comes after the trace.
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Evaluated;
}

