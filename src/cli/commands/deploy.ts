import { InvalidArgumentError, Option, type Command } from "commander";
import { OscdError, UsageError } from "../../core/errors.js";
import { deploy, deployExitCode, parseProbe, passwordFromFile, passwordFromTerminal, type DeployEvent } from "../../deploy/index.js";
import { commandLogLevel } from "../../core/command-log.js";
import { operationSchema } from "../../fleet/index.js";
import type { DeployMode } from "../../deploy/index.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";
import { nixGlobals } from "../../nix/index.js";
import { maxJobsArg, positiveInt } from "../build-options.js";
import { confirm, hostList } from "../confirm.js";
import { deployProgress, deploySummary } from "../deploy-progress.js";
import { printJsonLine } from "../output.js";

function wholeNumber(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a whole number");
  return Number(v);
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

interface DeployFlags {
  diff?: boolean;
  repo?: string;
  ref?: string;
  on?: string;
  mode: DeployMode;
  dryRun?: boolean;
  parallel: number;
  canary: number;
  failFast?: boolean;
  confirmTimeout: number;
  sshOption: string[];
  acceptNewHostKeys?: boolean;
  remoteOscd: string;
  storeProtocol: "ssh-ng" | "ssh";
  substituteOnDestination?: boolean;
  signKey?: string;
  checkSigs: boolean;
  sudoPasswordFile?: string;
  allowDowngrade?: boolean;
  force?: boolean;
  keysOnly?: boolean;
  probe: string[];
  probeAttempts: number;
  reboot?: string | boolean;
  rebootCommand: string;
  rebootTimeout: number;
  builders?: string;
  buildHost?: string;
  maxJobs?: number | "auto";
  stateDir?: string;
  rootsDir?: string;
  json?: boolean;
  yes?: boolean;
}

export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description("push deploy over SSH: build the selected hosts here, copy their closures, activate each through its oscd engine with magic rollback, in parallel")
    .option("-C, --repo <path-or-url>", "the fleet repository (default: the current directory)")
    .option("--ref <ref>", "a tag, branch or commit (default: HEAD of the local checkout)")
    .option("--on <selection>", "hosts: names, globs (web*) and @tags, comma-separated (default: all)")
    .addOption(new Option("--mode <mode>", "switch, boot, test or dry-activate; or copy: copy the closures to the hosts and activate nothing (no profile, no keys)").choices([...operationSchema.options, "copy"]).default("switch"))
    .option("--dry-run", dryRunHelp("it pins the source, reaches the hosts read-only and evaluates (builds, signs, copies and activates nothing)"))
    .option("--parallel <n>", "hosts deployed at once", positiveInt, 10)
    .option("--canary <n>", "deploy N hosts first; go on only when they are healthy and confirmed", wholeNumber, 0)
    .option("--fail-fast", "start no more hosts once one fails")
    .option("--confirm-timeout <seconds>", "a host rolls back unless confirmed over a new SSH connection within this time", positiveInt, 30)
    .option("--ssh-option <opt>", "an ssh -o option, e.g. IdentityFile=~/.ssh/deploy (repeatable)", collect, [])
    .option("--accept-new-host-keys", "record the keys of hosts never seen (changed keys are still refused)")
    .option("--remote-oscd <command>", "the oscd command on the hosts", "oscd")
    .addOption(new Option("--store-protocol <p>", "how nix copy reaches the hosts").choices(["ssh-ng", "ssh"]).default("ssh-ng"))
    .option("--substitute-on-destination", "let the hosts fetch what they can from their own caches")
    .option("--sign-key <file>", "sign the closures with this Nix secret key before copying, so the hosts check them (default: $OSCD_SIGNING_KEY_FILE)")
    .option("--no-check-sigs", "copy unsigned closures to root logins (root is a trusted Nix user and takes them unchecked)")
    .option("--sudo-password-file <file>", "the sudo password for non-root SSH users (default: $OSCD_SUDO_PASSWORD_FILE, else asked once on the terminal)")
    .option("--allow-downgrade", "accept a release older than the running one")
    .option("--force", "activate even where the host already runs the system")
    .option("--probe <[status=]url>", "an HTTP check from here after each switch ({host}, {address} replaced); a host is confirmed only when all pass, else rolled back at once (repeatable)", collect, [])
    .option("--probe-attempts <n>", "tries of the probes, 2 s apart", positiveInt, 5)
    .option("--reboot [when]", "after a confirmed switch, reboot when the kernel, initrd or modules changed (needed, the default) or always; wait for the new boot and check it runs the new system")
    .option("--reboot-command <command>", "how a host reboots", "systemctl reboot")
    .option("--reboot-timeout <seconds>", "how long a host may take to come back", positiveInt, 300)
    .option("--keys-only", "upload the hosts' secrets ([hosts.<name>.keys] in oscd.toml) only: no build, no activation")
    .option("--build-host <[user@]host[:port]>", "build on this machine over SSH (e.g. an aarch64 server for Raspberry Pis); the closures come back here and go to the hosts from here")
    .option("--builders <spec>", "Nix remote builders, e.g. 'ssh://pi-builder aarch64-linux'")
    .option("--max-jobs <n>", "parallel local builds (a number or auto)", maxJobsArg)
    .option("--state-dir <dir>", "where oscd keeps its git mirror (default: ~/.cache/oscd)")
    .option("--roots-dir <dir>", "GC root directory for the build results")
    .option("--diff", "before activating each host, show what changes there: packages, closure size, reboot need")
    .option("-y, --yes", "do not ask before deploying to every host (asked only on a terminal, when --on is not given)")
    .option("--json", "print events and the summary as JSON lines on stdout")
    .addHelpText(
      "after",
      `
Examples:
  oscd deploy --sign-key /run/keys/fleet.secret  # every host, switch, 10 at a time
  oscd deploy --on 'web*,@db' --ref v1.4.0
  oscd deploy --canary 1 --confirm-timeout 60
  oscd deploy --probe 'http://{address}:8080/healthz' --canary 2
  oscd deploy --mode boot --on pi1 --builders 'ssh://pi-builder aarch64-linux'
  oscd deploy --on 'pi*' --build-host root@arm-builder   # build everything there
  oscd deploy --keys-only --on db1                # rotate secrets, nothing else
  oscd deploy --on db1 --diff                     # packages, closure size, reboot need first
  oscd deploy --on '@kiosk' --reboot              # reboot where the kernel changed
  oscd deploy --on 'web*' --mode copy             # copy the closures now, switch later
  oscd deploy --on db1 --dry-run                  # what would be copied and activated where

Every host is reached over SSH before anything is built. Each host's activation runs detached
on the host and must be confirmed over a new SSH connection within --confirm-timeout, else the
host rolls back by itself. Exit codes: 0 all done, 4 some rolled back, 1 some failed.`,
    )
    .action(async (o: DeployFlags) => {
      if (o.canary < 0) throw new UsageError("--canary must not be negative");
      const remoteOscd = o.remoteOscd.split(/\s+/).filter(Boolean);
      if (remoteOscd.length === 0) throw new UsageError("--remote-oscd is empty");
      const pwFile = o.sudoPasswordFile ?? process.env.OSCD_SUDO_PASSWORD_FILE;
      const json = (e: unknown) => printJsonLine(e);
      // Lines rewritten in place only when nothing else writes to the terminal meanwhile (-v, -L).
      const live = process.stderr.isTTY === true && commandLogLevel() === 0 && !nixGlobals().printBuildLogs;
      const progress = o.json ? (e: DeployEvent) => json(e) : deployProgress(live);
      const policy = o.reboot === undefined || o.reboot === false ? undefined : o.reboot === true ? "needed" : o.reboot;
      if (policy !== undefined && policy !== "needed" && policy !== "always") throw new UsageError(`--reboot takes needed or always, not ${JSON.stringify(policy)}`);
      if (policy !== undefined && o.mode !== "switch") throw new UsageError("--reboot goes with --mode switch", "the switch is confirmed first, then the host reboots into the same system");
      const rebootCommand = o.rebootCommand.split(/\s+/).filter(Boolean);
      const probes = o.probe.map(parseProbe);
      const report = await deploy({
        probes: probes.length ? { list: probes, settings: { attempts: o.probeAttempts, delayMs: 2000, timeoutMs: 5000 } } : undefined,
        reboot: policy ? { policy, command: rebootCommand, timeoutMs: o.rebootTimeout * 1000 } : undefined,
        repo: o.repo,
        ref: o.ref,
        selection: o.on,
        mode: o.mode,
        dryRun: o.dryRun,
        parallel: o.parallel,
        canary: o.canary,
        failFast: o.failFast === true,
        confirmTimeoutS: o.confirmTimeout,
        ssh: { options: o.sshOption, hostKeyChecking: o.acceptNewHostKeys ? "accept-new" : "yes", connectTimeoutS: 10 },
        remoteOscd,
        storeProtocol: o.storeProtocol,
        substituteOnDestination: o.substituteOnDestination,
        signKeyFile: o.signKey ?? process.env.OSCD_SIGNING_KEY_FILE,
        noCheckSigs: o.checkSigs === false,
        sudoPassword: async (again) => {
          if (pwFile) return again ? undefined : passwordFromFile(pwFile);
          return passwordFromTerminal(again ? "sudo password (again): " : "sudo password for the deploy user: ");
        },
        allowDowngrade: o.allowDowngrade,
        force: o.force,
        keysOnly: o.keysOnly,
        builders: o.builders,
        buildHost: o.buildHost,
        maxJobs: o.maxJobs,
        stateDir: o.stateDir,
        rootsDir: o.rootsDir,
        diff: o.diff,
        onEvent: progress,
        // Every host, nobody named one: ask first (on a terminal only; --yes skips it).
        confirmPlan:
          o.on === undefined
            ? (plan) => confirm(`${o.keysOnly ? "Upload the keys of" : o.mode === "copy" ? `Copy ${plan.ref} (${plan.commit.slice(0, 12)}) to` : `Deploy ${plan.ref} (${plan.commit.slice(0, 12)}) with ${o.mode} to`} every host: ${hostList(plan.hosts)}?`, "deploying to every host", { yes: o.yes })
            : undefined,
      });
      // With --json the plan is the last JSON line, after the events (as the summary is).
      if (report.plan) {
        if (o.json) json({ type: "dry-run", ...report.plan });
        else printDryRun(report.plan, false);
        return;
      }
      if (o.json) json({ type: "summary", ...report, exitCode: deployExitCode(report) });
      else process.stdout.write(deploySummary(report.hosts));
      const code = deployExitCode(report);
      if (code === 0) return;
      const count = (r: string) => report.hosts.filter((h) => h.result === r).length;
      const parts = ["rolled-back", "failed", "refused", "skipped"].filter((r) => count(r) > 0).map((r) => `${count(r)} ${r}`);
      throw new OscdError(code === 4 ? "hosts-rolled-back" : "hosts-failed", `${parts.join(", ")} of ${report.hosts.length} host(s)${report.stopped ? ` (${report.stopped})` : ""}`, {
        hint: code === 4 ? "the rolled-back hosts run their previous system; see the NOTE column, fix the release and deploy again" : "see the NOTE column of the summary; the other hosts went ahead",
        exitCode: code,
      });
    });
}
