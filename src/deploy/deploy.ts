import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { OscdError, UsageError, isOscdError } from "../core/errors.js";
import { buildHosts, buildTargets, eachLimited, pinFleet, type PinnedFleet } from "../builder/index.js";
import { fleetHost } from "../fleet/index.js";
import { signPaths } from "../nix/index.js";
import type { DeployEvent, DeployMode, DeployReport, HostReport } from "./events.js";
import { deployPlan } from "./dry-run.js";
import { buildHostPlan, probeBuildHost } from "./build-host.js";
import { deployHost, uploadSecrets } from "./host-deploy.js";
import type { Secret } from "./secrets.js";
import { probeHost, SudoPasswordNeeded, type HostFacts } from "./probe.js";
import type { Remote } from "./remote.js";
import { rollout } from "./rollout.js";
import { closeMaster, parseSshTarget, type SshSettings, type SshTarget } from "./ssh.js";
import type { Elevation } from "./sudo.js";
import type { RebootPolicy } from "./reboot.js";
import type { DeployerProbe, ProbeSettings } from "./probes.js";

export interface DeployOptions {
  repo?: string;
  ref?: string;
  stateDir?: string;
  rootsDir?: string;
  selection?: string;
  builders?: string;
  /** Build on this machine over SSH (`[user@]host[:port]`) instead of here. */
  buildHost?: string;
  maxJobs?: number | "auto";
  /** An activation mode, or `copy`: copy the closures only (no activation, no profile, no keys). */
  mode: DeployMode;
  /**
   * Pin, reach the hosts (read-only) and evaluate: nothing is built, signed, copied, uploaded
   * or activated; the report's `plan` says what a real run would do.
   */
  dryRun?: boolean;
  parallel: number;
  canary: number;
  failFast: boolean;
  confirmTimeoutS: number;
  ssh: Omit<SshSettings, "controlDir">;
  /** The oscd command on the hosts, as words; a host's own `oscd` setting in oscd.toml wins. */
  remoteOscd: readonly string[];
  storeProtocol: "ssh-ng" | "ssh";
  substituteOnDestination?: boolean;
  /** Sign the closures with this Nix secret key before copying; the hosts check the signatures. */
  signKeyFile?: string;
  /** Copy unsigned closures to root logins (a trusted Nix user takes them): an explicit opt-out. */
  noCheckSigs?: boolean;
  /** Asked once, only when some host's sudo asks for a password (`again`: it was refused). Undefined: none to give. */
  sudoPassword?: (again: boolean) => Promise<string | undefined>;
  allowDowngrade?: boolean;
  force?: boolean;
  /** Time after a missed confirmation deadline to reconnect and learn how a host ended. */
  graceMs?: number;
  probes?: { list: DeployerProbe[]; settings: ProbeSettings };
  reboot?: { policy: RebootPolicy; command: readonly string[]; timeoutMs: number };
  /** Upload the hosts' secrets only: no build, no activation. */
  keysOnly?: boolean;
  /** Show each host's package, closure size and reboot diff (computed on the host) before activating. */
  diff?: boolean;
  onEvent?: (e: DeployEvent) => void;
  /**
   * Called with the plan (the selected hosts, the pinned commit) before any host is reached:
   * the CLI asks there when no selection was given; a rejection stops the deploy untouched.
   */
  confirmPlan?: (plan: { hosts: readonly string[]; commit: string; ref: string; version?: string }) => Promise<void>;
}

/**
 * `oscd deploy`: pin → select → reach every host (before building) → build → per host, at
 * most `parallel` at once (canaries first): copy the closure, activate through the host's oscd
 * engine detached from the SSH session, confirm over a new connection (magic rollback).
 */
export async function deploy(o: DeployOptions): Promise<DeployReport> {
  const emit = o.onEvent ?? (() => undefined);
  if (o.parallel < 1) throw new UsageError("--parallel must be at least 1");
  checkCopyMode(o);
  const controlDir = await mkdtemp(join(tmpdir(), "oscd-ssh-"));
  const used: SshTarget[] = [];
  try {
    const ssh: SshSettings = { ...o.ssh, controlDir };
    emit({ type: "phase", phase: "pin", detail: o.ref ?? "HEAD" });
    const pinned = await pinFleet({ repo: o.repo, ref: o.ref, stateDir: o.stateDir, rootDir: o.rootsDir });
    const targets = await buildTargets(pinned, o.selection);
    const names = targets.selected.map((t) => t.name);
    emit({ type: "plan", hosts: names, commit: pinned.source.commit, ref: pinned.source.ref, version: pinned.source.version });
    if (!o.dryRun) await o.confirmPlan?.({ hosts: names, commit: pinned.source.commit, ref: pinned.source.ref, version: pinned.source.version });
    const sshTargets = new Map(names.map((n) => [n, parseSshTarget(n, fleetHost(pinned.fleet.config, n)?.ssh)]));
    used.push(...sshTargets.values());
    const oscdOf = (n: string): readonly string[] => fleetHost(pinned.fleet.config, n)?.oscd?.split(" ") ?? o.remoteOscd;

    const nonRoot = [...sshTargets.values()].filter((t) => t.user !== "root");
    if (!o.signKeyFile && !o.noCheckSigs && nonRoot.length < sshTargets.size) {
      throw new UsageError(
        "the closures would reach the hosts unsigned: pass --sign-key FILE (a key the hosts trust), or --no-check-sigs to copy unsigned paths to root logins",
        "with --sign-key every host's Nix checks what it receives; root would otherwise accept anything",
        "unsigned-copy",
      );
    }
    if (nonRoot.length > 0 && !o.signKeyFile) {
      throw new UsageError(
        `${nonRoot.map((t) => t.host).join(", ")}: the SSH user is not root, so the host's Nix accepts only paths signed by a key it trusts`,
        "pass --sign-key FILE (a Nix secret key whose public key is in the hosts' trusted-public-keys)",
        "unsigned-copy",
      );
    }
    if (o.buildHost && o.builders) throw new UsageError("--build-host and --builders do not go together", "--build-host builds everything on that machine; --builders adds remote builders to this one");
    const buildHost = o.buildHost ? parseSshTarget("build host", o.buildHost) : undefined;
    if (buildHost) used.push(buildHost);
    emit({ type: "phase", phase: "reach", detail: `${names.length} host(s)` });
    const facts = new Map<string, HostFacts>();
    const buildHostReached = buildHost ? probeBuildHost(buildHost, ssh).then(() => undefined, (e: unknown) => (isOscdError(e) ? e : new OscdError("probe-failed", `build host: ${String(e)}`))) : undefined;
    const elevations = await reachAll(names, sshTargets, ssh, o, facts, oscdOf);
    const failures = elevations.failures;
    const buildHostError = await buildHostReached;
    if (buildHostError) failures.set("build host", buildHostError);
    if (failures.size > 0) {
      const first = [...failures.values()][0] as OscdError;
      throw new OscdError("hosts-unreachable", `not deploying: ${[...failures.entries()].map(([h, e]) => `${h} (${e.message})`).join("; ")}`, {
        hint: first.hint ?? "every selected host must be reachable before anything is built; fix them or leave them out with --on",
        exitCode: first.exitCode === 3 ? 3 : 1,
      });
    }

    const secrets = new Map(names.map((n) => [n, Object.entries(fleetHost(pinned.fleet.config, n)?.keys ?? {}).map(([name, config]) => ({ name, config }))]));
    for (const [n, list] of secrets) {
      for (const k of list) if (k.config.text !== undefined) emit({ type: "warning", host: n, message: `key ${k.name} is given as text in oscd.toml, so it is in git and in the source snapshot in the Nix store; use file or command` });
    }
    const keysBaseDir = localRepoDir(o.repo);
    const remoteOf = (name: string): Remote => ({ target: sshTargets.get(name) as SshTarget, ssh, elevation: elevations.of(name), oscd: oscdOf(name) });
    if (o.dryRun) return await dryRun(o, pinned, targets, names, sshTargets, facts, secrets);
    if (o.keysOnly) {
      const result = await rollout(names, { parallel: o.parallel, canary: 0, failFast: o.failFast }, async (name) => {
        const start = Date.now();
        const r = blank(name, facts.get(name), "done");
        try {
          await uploadSecrets({ remote: remoteOf(name), secrets: secrets.get(name) ?? [], oscd: facts.get(name)?.oscd === true }, "all", keysBaseDir, (step, detail) => emit({ type: "host", host: name, step, detail }));
        } catch (e) {
          r.result = "failed";
          r.error = isOscdError(e) ? { code: e.code, message: e.message } : { code: "internal", message: String(e) };
        }
        r.timeMs = Date.now() - start;
        emit({ type: "host-done", report: r });
        return r;
      }, (name, reason) => ({ ...blank(name, facts.get(name), "skipped"), error: { code: "skipped", message: reason } }));
      return { commit: pinned.source.commit, ref: pinned.source.ref, version: pinned.source.version, hosts: result.reports, stopped: result.stopped };
    }

    const remote = buildHost ? buildHostPlan(buildHost, ssh, targets.selected.map((t) => t.system), o.parallel) : undefined;
    emit({ type: "phase", phase: "build", detail: `${names.length} host(s)${buildHost ? ` on ${buildHost.destination}` : ""}` });
    const built = await buildHosts(
      pinned,
      { selection: o.selection, builders: remote?.builders ?? o.builders, maxJobs: remote?.maxJobs ?? o.maxJobs, rootDir: o.rootsDir, nix: remote ? { env: remote.env } : undefined },
      targets,
    );
    const toplevels = new Map(built.hosts.filter((h) => h.toplevel && (h.status === "built" || h.status === "present")).map((h) => [h.name, h.toplevel as string]));
    if (o.signKeyFile && toplevels.size > 0) await signPaths([...new Set(toplevels.values())], o.signKeyFile, { recursive: true });

    const release = releaseOf(pinned, built.tag);
    const reports = new Map<string, HostReport>();
    for (const h of built.hosts) {
      if (!toplevels.has(h.name)) {
        const r = blank(h.name, facts.get(h.name), "failed");
        r.error = h.error ? { code: h.error.code, message: h.error.message } : { code: "build-failed", message: `${h.failedStep ?? "build"} failed` };
        reports.set(h.name, r);
        emit({ type: "host-done", report: r });
      }
    }
    const go = names.filter((n) => toplevels.has(n));
    const result = await rollout(
      go,
      { parallel: o.parallel, canary: o.canary, failFast: o.failFast },
      async (name) => {
        const r = await deployHost(
          { remote: remoteOf(name), facts: facts.get(name) as HostFacts, toplevel: toplevels.get(name) as string, secrets: secrets.get(name) ?? [] },
          {
            mode: o.mode,
            release,
            confirmTimeoutS: o.confirmTimeoutS,
            storeProtocol: o.storeProtocol,
            checkSigs: o.signKeyFile !== undefined,
            substituteOnDestination: o.substituteOnDestination,
            allowDowngrade: o.allowDowngrade,
            force: o.force,
            graceMs: o.graceMs,
            keysBaseDir,
            reboot: o.reboot,
            probes: o.probes,
            diff: o.diff,
            emit,
          },
        );
        emit({ type: "host-done", report: r });
        return r;
      },
      (name, reason) => {
        const r = blank(name, facts.get(name), "skipped");
        r.error = { code: "skipped", message: reason };
        return r;
      },
    );
    if (result.stopped) emit({ type: "stopped", reason: result.stopped, skipped: result.reports.filter((r) => r.result === "skipped").map((r) => r.host) });
    for (const r of result.reports) reports.set(r.host, r);
    return { commit: pinned.source.commit, ref: pinned.source.ref, version: pinned.source.version, hosts: names.map((n) => reports.get(n) as HostReport), stopped: result.stopped };
  } finally {
    // The shared connections end with the deploy: no ssh of ours lingers for ControlPersist.
    await Promise.all(used.map((t) => closeMaster(t, { ...o.ssh, controlDir })));
    await rm(controlDir, { recursive: true, force: true });
  }
}

/** `--mode copy` activates nothing, so what only goes with an activation is refused. */
function checkCopyMode(o: DeployOptions): void {
  if (o.mode !== "copy") return;
  const bad = [o.keysOnly && "--keys-only", o.reboot && "--reboot", o.probes && "--probe"].filter((x): x is string => typeof x === "string");
  if (bad.length > 0) throw new UsageError(`--mode copy copies the closures and activates nothing, so it takes no ${bad.join(", ")}`, "deploy with --mode switch (or boot, test) to activate, probe or reboot", "usage");
}

/** `--dry-run`: the hosts were reached (read-only); evaluate only and say what a real run would do. */
async function dryRun(
  o: DeployOptions,
  pinned: PinnedFleet,
  targets: Awaited<ReturnType<typeof buildTargets>>,
  names: readonly string[],
  sshTargets: Map<string, SshTarget>,
  facts: Map<string, HostFacts>,
  secrets: Map<string, { name: string; config: Secret["config"] }[]>,
): Promise<DeployReport> {
  const did = [`pinned ${pinned.source.commit.slice(0, 12)}`, `reached ${names.length} host(s) read-only`];
  const evaluated = o.keysOnly ? undefined : await buildHosts(pinned, { selection: o.selection, evalOnly: true, nix: {} }, targets);
  if (evaluated) did.push("evaluated (nothing built)");
  const plan = deployPlan(
    {
      mode: o.mode,
      keysOnly: o.keysOnly,
      storeProtocol: o.storeProtocol,
      signKeyFile: o.signKeyFile,
      force: o.force,
      reboot: o.reboot?.policy,
      probes: o.probes?.list.length ?? 0,
      hosts: names.map((n) => {
        const b = evaluated?.hosts.find((h) => h.name === n);
        return { name: n, target: sshTargets.get(n) as SshTarget, facts: facts.get(n), toplevel: b?.status === "failed" ? undefined : b?.toplevel, error: b?.error?.message, secrets: secrets.get(n) ?? [] };
      }),
    },
    did,
  );
  return { commit: pinned.source.commit, ref: pinned.source.ref, version: pinned.source.version, hosts: [], plan };
}

const REACH_AT_ONCE = 32;

/**
 * Reaches every host and learns how to be root there: root logins directly; other users try
 * `sudo -n` first, and only the hosts whose sudo asks for a password get it (asked once per
 * deploy; refused → asked again at most once, for the hosts that refused). A host whose sudo
 * asks for nothing never receives the password.
 */
async function reachAll(
  names: readonly string[],
  targets: Map<string, SshTarget>,
  ssh: SshSettings,
  o: DeployOptions,
  facts: Map<string, HostFacts>,
  oscdOf: (host: string) => readonly string[],
): Promise<{ failures: Map<string, OscdError>; of: (host: string) => Elevation }> {
  const elevation = new Map<string, Elevation>(names.map((n) => [n, (targets.get(n) as SshTarget).user === "root" ? { kind: "root" } : { kind: "sudo" }]));
  const failures = await reach(names, targets, ssh, elevation, o, facts, oscdOf);
  const asking = [...failures].filter(([, e]) => e instanceof SudoPasswordNeeded).map(([n]) => n);
  const retry = async (hosts: string[], again: boolean): Promise<string[]> => {
    const password = await o.sudoPassword?.(again);
    if (password === undefined) return [];
    for (const n of hosts) {
      failures.delete(n);
      elevation.set(n, { kind: "sudo", password });
    }
    for (const [n, e] of await reach(hosts, targets, ssh, elevation, o, facts, oscdOf)) failures.set(n, e);
    return hosts.filter((n) => failures.get(n)?.code === "sudo-refused");
  };
  if (asking.length > 0) {
    const refused = await retry(asking, false);
    // Asked again at most once (a typo), then the hosts that still refuse are reported.
    if (refused.length > 0) await retry(refused, true);
  }
  return { failures, of: (n) => elevation.get(n) as Elevation };
}

async function reach(
  names: readonly string[],
  targets: Map<string, SshTarget>,
  ssh: SshSettings,
  elevation: Map<string, Elevation>,
  o: DeployOptions,
  facts: Map<string, HostFacts>,
  oscdOf: (host: string) => readonly string[],
): Promise<Map<string, OscdError>> {
  const failures = new Map<string, OscdError>();
  // A probe is one short SSH round trip that also opens the host's shared connection: they all
  // run at once (up to REACH_AT_ONCE), not --parallel at a time, which bounds the deploys.
  await eachLimited(names, Math.max(o.parallel, REACH_AT_ONCE), async (n) => {
    try {
      facts.set(n, await probeHost(targets.get(n) as SshTarget, ssh, elevation.get(n) as Elevation, oscdOf(n)));
      o.onEvent?.({ type: "host", host: n, step: "reached" });
    } catch (err) {
      failures.set(n, isOscdError(err) ? err : new OscdError("probe-failed", `${n}: ${String(err)}`));
    }
  });
  return failures;
}

/** The operator's checkout (key files are relative to it); the current directory for a URL. */
function localRepoDir(repo: string | undefined): string {
  if (!repo) return process.cwd();
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\s]+@[^/\s]+:/.test(repo) ? process.cwd() : resolvePath(repo);
}

function releaseOf(p: PinnedFleet, tag: string | undefined): { version?: string; commit?: string; ref?: string; tag?: string } {
  return { version: p.source.version, commit: p.source.commit, ref: p.source.ref, tag };
}

function blank(host: string, f: HostFacts | undefined, result: HostReport["result"]): HostReport {
  return { host, result, old: { generation: f?.generation, version: f?.version, system: f?.currentSystem }, new: {}, timeMs: 0, warnings: [] };
}
