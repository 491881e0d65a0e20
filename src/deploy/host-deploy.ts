import { CommandFailedError, isOscdError, OscdError } from "../core/errors.js";
import { connectionLost, copyTo, CopyInterruptedError } from "../nix/index.js";
import type { DeployEvent, DeployMode, HostReport } from "./events.js";
import type { HostFacts } from "./probe.js";
import { bareActivate, confirmRemote, followRemote, rejectRemote, startRemote, type Remote } from "./remote.js";
import { nixSshOpts } from "./ssh.js";
import { FINAL_STATES, type TargetStatus } from "./target/index.js";
import { rebootAndVerify, type RebootPolicy } from "./reboot.js";
import { runProbes, type DeployerProbe, type ProbeSettings } from "./probes.js";
import { diffOnHost } from "./remote-diff.js";
import { destinationOf, secretContent, uploadKeys, type Secret } from "./secrets.js";

export interface HostPlan {
  remote: Remote;
  facts: HostFacts;
  toplevel: string;
  secrets: Secret[];
}

export interface HostDeployOptions {
  /** `copy`: the closure only; nothing is activated, no profile or key is touched. */
  mode: DeployMode;
  release: { version?: string; commit?: string; ref?: string; tag?: string };
  confirmTimeoutS: number;
  /** `ssh-ng` (default) or `ssh` store protocol for nix copy. */
  storeProtocol: "ssh-ng" | "ssh";
  /** Copy with signature checks on (paths signed by a key the host trusts). */
  checkSigs: boolean;
  substituteOnDestination?: boolean;
  allowDowngrade?: boolean;
  force?: boolean;
  /** Extra time after a confirmation deadline to reconnect and learn how the host ended. */
  graceMs?: number;
  /** Reboot after a confirmed switch when the kernel, initrd or modules changed, or always. */
  reboot?: { policy: RebootPolicy; command: readonly string[]; timeoutMs: number };
  /** HTTP probes from the deployer after the switch; the host is confirmed only when they pass. */
  probes?: { list: DeployerProbe[]; settings: ProbeSettings };
  /** Where relative key files are found (the fleet checkout). */
  keysBaseDir: string;
  /** Show what the deployment changes on the host (packages, closure size, reboot) before activating. */
  diff?: boolean;
  emit: (e: DeployEvent) => void;
}

/**
 * Uploads the host's secrets of one kind (before or after activation, or all for
 * --keys-only), all in one call: through the host's oscd when it has one (`oscd: true`).
 */
export async function uploadSecrets(plan: Pick<HostPlan, "remote" | "secrets"> & { oscd: boolean }, when: "before" | "after" | "all", baseDir: string, step: (s: string, d?: string) => void): Promise<void> {
  const keys: { secret: Secret; content: string }[] = [];
  for (const s of plan.secrets) {
    if (when !== "all" && s.config.upload !== when) continue;
    step("keys", `${s.name} → ${destinationOf(s)}`);
    keys.push({ secret: s, content: await secretContent(s, baseDir) });
  }
  await uploadKeys(plan.remote, plan.oscd, keys);
}

/**
 * One host: copy the closure, start the engine on the host detached, follow it, confirm over a
 * new connection, follow it to its end. Never throws: the outcome is the report.
 */
export async function deployHost(plan: HostPlan, o: HostDeployOptions): Promise<HostReport> {
  const start = Date.now();
  const { remote, facts, toplevel } = plan;
  const host = remote.target.host;
  const step = (s: string, detail?: string) => o.emit({ type: "host", host, step: s, detail });
  const report: HostReport = {
    host,
    result: "failed",
    old: { generation: facts.generation, version: facts.version, system: facts.currentSystem },
    new: { system: toplevel, version: o.release.version },
    timeMs: 0,
    warnings: [],
  };
  try {
    step("copy", toplevel);
    await copyClosure(remote, toplevel, o);
    if (o.mode === "copy") {
      report.result = "copied";
      return report;
    }
    const mode = o.mode;
    const keysPlan = { ...plan, oscd: facts.oscd };
    await uploadSecrets(keysPlan, "before", o.keysBaseDir, step);
    if (!facts.oscd) {
      const warning = "oscd is not installed on the host: bare steps (profile, switch-to-configuration), no guards, health checks or rollback";
      report.warnings.push(warning);
      o.emit({ type: "warning", host, message: warning });
      step("switch", `bare switch-to-configuration ${mode}`);
      await bareActivate(remote, toplevel, mode);
      report.result = facts.currentSystem === toplevel && mode !== "boot" ? "unchanged" : "done";
      await uploadSecrets(keysPlan, "after", o.keysBaseDir, step);
      return report;
    }
    if (o.diff) {
      const d = await diffOnHost(remote, toplevel);
      if ("diff" in d) o.emit({ type: "diff", host, diff: d.diff });
      else o.emit({ type: "warning", host, message: `no diff: ${d.reason}` });
    }
    step("activate", `${mode} ${toplevel}`);
    const confirm = mode === "switch" || mode === "test" ? o.confirmTimeoutS : 0;
    const grace = o.graceMs ?? 60_000;
    let deadline = Date.now() + 600_000;
    const seen = (st: TargetStatus) => {
      if (st.confirmBy) deadline = Date.parse(st.confirmBy) + grace;
      step(st.state === "awaiting-confirm" ? "confirm" : (st.step ?? st.state), st.detail);
    };
    const started = await startRemote(remote, { toplevel, mode, release: o.release, confirmTimeoutS: confirm, allowDowngrade: o.allowDowngrade, force: o.force }, seen);
    const id = started.id;
    report.id = id;
    const settled = (st: TargetStatus | undefined): boolean => st !== undefined && FINAL_STATES.includes(st.state);
    let s: TargetStatus | undefined = started.last;
    if (s === undefined || (!settled(s) && s.state !== "awaiting-confirm")) s = await followRemote(remote, id, { untilAwaitingConfirm: true, onStatus: seen, reconnectUntil: () => deadline });
    if (s.state === "awaiting-confirm") {
      let after: TargetStatus | undefined;
      const address = remote.target.destination.slice(remote.target.destination.indexOf("@") + 1);
      const failures = o.probes ? await runProbes(o.probes.list, host, address, o.probes.settings, (n, f) => step("probe", f.length ? `attempt ${n}: ${f.join("; ")}` : `attempt ${n}: healthy`)) : [];
      try {
        if (failures.length > 0) {
          step("reject", "the deployer's probes failed: rolling back now");
          after = await rejectRemote(remote, id, `probes failed: ${failures.join("; ")}`, seen);
        } else {
          step("confirm", "new connection");
          after = await confirmRemote(remote, id, s.confirmBy ? Date.parse(s.confirmBy) : Date.now(), seen);
        }
      } catch (e) {
        // Too late or unreachable: the host rolls back by itself; follow to learn how it ended.
        step("confirm", isOscdError(e) ? e.message : String(e));
      }
      s = after !== undefined && settled(after) ? after : await followRemote(remote, id, { onStatus: seen, reconnectUntil: () => deadline });
    }
    applyStatus(report, s);
    if (o.reboot && report.result === "done" && (o.reboot.policy === "always" || s.rebootNeeded)) {
      step("reboot", o.reboot.policy === "always" ? "always" : "the kernel, initrd or modules changed");
      await rebootAndVerify(remote, toplevel, o.reboot.command, o.reboot.timeoutMs, (d) => step("reboot", d));
      report.rebooted = true;
    }
    if (report.result === "done" || report.result === "unchanged") await uploadSecrets(keysPlan, "after", o.keysBaseDir, step);
  } catch (e) {
    report.result = "failed";
    report.error = isOscdError(e) ? { code: e.code, message: e.message } : { code: "internal", message: e instanceof Error ? e.message : String(e) };
  } finally {
    report.timeMs = Date.now() - start;
  }
  return report;
}

/**
 * `nix copy` of the closure. Nothing on the host changes before the whole closure is there:
 * Nix registers a path only once it arrived whole, and the activation starts only after the
 * copy; so a copy that fails, a connection cut half-way included, leaves the system and the
 * profile as they were, and says why.
 */
async function copyClosure(remote: Remote, toplevel: string, o: HostDeployOptions): Promise<void> {
  try {
    await copyTo(`${o.storeProtocol}://${remote.target.destination}`, [toplevel], {
      checkSigs: o.checkSigs,
      substituteOnDestination: o.substituteOnDestination,
      sshOpts: nixSshOpts(remote.target, remote.ssh, o.storeProtocol === "ssh-ng"),
    });
  } catch (e) {
    if (!isOscdError(e) || e.code === "path-not-trusted") throw e;
    const tail = e instanceof CommandFailedError ? e.stderrTail : e.message;
    const host = remote.target.host;
    const untouched = "the host's system and profile are unchanged (nothing is activated before the whole closure is there)";
    // Nix's and ssh's words for a connection that ended under them, on every Nix release (nix/messages.ts).
    if (e instanceof CopyInterruptedError || connectionLost(tail) !== undefined || connectionLost(e.message) !== undefined) {
      throw new OscdError("copy-interrupted", `${host}: the SSH connection was lost during the copy of the closure; ${untouched}`, {
        hint: "check the network to the host and deploy again: paths that arrived whole are kept and not sent again",
      });
    }
    throw new OscdError(e.code, `${host}: copying the closure failed (${e.message}); ${untouched}`, { hint: e.hint ?? "see the error; nothing was activated" });
  }
}

function applyStatus(report: HostReport, s: TargetStatus): void {
  if (s.previousGeneration !== undefined) report.old.generation = s.previousGeneration;
  if (s.previousVersion !== undefined) report.old.version = s.previousVersion;
  report.new.generation = s.generation;
  if (s.version) report.new.version = s.version;
  report.rebootNeeded = s.rebootNeeded;
  if (s.error) report.error = { code: s.error.code, message: s.error.message };
  switch (s.state) {
    case "committed":
    case "dry-run":
      report.result = "done";
      break;
    case "unchanged":
      report.result = "unchanged";
      break;
    case "rolled-back":
      report.result = "rolled-back";
      report.new.generation = undefined;
      break;
    case "refused":
      report.result = "refused";
      break;
    default:
      report.result = "failed";
  }
}
