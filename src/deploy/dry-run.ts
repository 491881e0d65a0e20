import { dryRunPlan, type DryRunPlan } from "../core/dry-run.js";
import type { DeployMode } from "./events.js";
import type { HostFacts } from "./probe.js";
import type { RebootPolicy } from "./reboot.js";
import { destinationOf, type Secret } from "./secrets.js";
import type { SshTarget } from "./ssh.js";

export interface DeployPlanInput {
  mode: DeployMode;
  keysOnly?: boolean;
  storeProtocol: "ssh-ng" | "ssh";
  signKeyFile?: string;
  force?: boolean;
  reboot?: RebootPolicy;
  probes: number;
  hosts: {
    name: string;
    target: SshTarget;
    facts?: HostFacts;
    /** From the evaluation (nothing built); undefined when it failed (see `error`). */
    toplevel?: string;
    error?: string;
    secrets: Secret[];
  }[];
}

/**
 * What `oscd deploy` would do on each host, from the same facts a real run acts on: the
 * toplevel the evaluation names, the ssh destination, the running system the host reported,
 * and the keys of oscd.toml. The keys' contents are not read (a key's command is not run).
 */
export function deployPlan(i: DeployPlanInput, did: string[]): DryRunPlan {
  const plan = dryRunPlan("deploy", did);
  const keys = (h: DeployPlanInput["hosts"][number], when: "before" | "after" | "all") => {
    for (const s of h.secrets) if (when === "all" || s.config.upload === when) plan.steps.push({ action: "upload key", target: `${h.target.destination}:${destinationOf(s)}`, host: h.name, detail: `${s.name} (${s.config.upload} activation)` });
  };
  const toplevels = new Set(i.hosts.flatMap((h) => (h.toplevel ? [h.toplevel] : [])));
  if (i.signKeyFile && !i.keysOnly && toplevels.size > 0) plan.steps.push({ action: "sign", target: "local store", detail: `the closures of ${toplevels.size} toplevel(s) with ${i.signKeyFile}` });
  for (const h of i.hosts) {
    if (i.keysOnly) {
      keys(h, "all");
      continue;
    }
    if (!h.toplevel) {
      plan.warnings.push(`${h.name}: ${h.error ?? "no toplevel"}; a real run fails this host`);
      continue;
    }
    plan.steps.push({ action: "copy", target: `${i.storeProtocol}://${h.target.destination}`, host: h.name, detail: `closure of ${h.toplevel}` });
    if (i.mode === "copy") continue;
    keys(h, "before");
    const runs = h.facts?.currentSystem === h.toplevel;
    const through = h.facts?.oscd === false ? "bare switch-to-configuration, no rollback (oscd is not installed there)" : "its oscd engine, magic rollback";
    const note = runs && i.mode !== "boot" && !i.force ? "; it runs this system already: unchanged unless --force" : "";
    plan.steps.push({ action: i.mode, target: h.toplevel, host: h.name, detail: `from ${h.facts?.currentSystem ?? "(no running system)"} through ${through}${i.probes ? `, after ${i.probes} probe(s)` : ""}${note}` });
    if (i.reboot) plan.steps.push({ action: "reboot", target: h.target.destination, host: h.name, detail: i.reboot === "always" ? "always" : "if the kernel, initrd or modules changed" });
    keys(h, "after");
  }
  return plan;
}
