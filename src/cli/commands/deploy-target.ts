import { InvalidArgumentError, Option, type Command } from "commander";
import { confirmTargetDeployment, followTargetDeployment, rejectTargetDeployment, runTargetDeployment, settledStatus, startTargetDeployment, checkDeploymentId, readKeyRequest, writeKeys, type TargetStatus } from "../../deploy/target/index.js";
import { operationSchema, type Operation } from "../../fleet/index.js";

function seconds(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected whole seconds");
  return Number(v);
}

const line = (s: TargetStatus): void => void process.stdout.write(JSON.stringify(s) + "\n");

interface StartFlags {
  mode: Operation;
  host?: string;
  config: string;
  confirmTimeout: number;
  releaseVersion?: string;
  releaseCommit?: string;
  releaseRef?: string;
  releaseTag?: string;
  allowDowngrade?: boolean;
  retryFailed?: boolean;
  force?: boolean;
  follow?: boolean;
  id?: string;
}

export function registerDeployTarget(program: Command): void {
  const cmd = program
    .command("deploy-target")
    .description("the target side of oscd deploy: start an activation detached from the SSH session, follow it, confirm it (magic rollback)")
    .addHelpText(
      "after",
      `
Examples:
  oscd deploy-target start /nix/store/…-nixos-system-web1-1.2.0 --confirm-timeout 30
  oscd deploy-target follow 20261121093015123-0123abcd
  oscd deploy-target confirm 20261121093015123-0123abcd

oscd deploy runs these over SSH; you rarely need them by hand.`,
    );
  cmd
    .command("start")
    .argument("<toplevel>", "the system to activate (already in this machine's store)")
    .description("start the activation engine detached (systemd-run, or a session of its own) and print its deployment id")
    .addOption(new Option("--mode <mode>", "switch, boot, test or dry-activate").choices(operationSchema.options).default("switch"))
    .option("--host <name>", "this machine's name in the fleet")
    .option("--config <file>", "machine configuration", "/etc/oscd/machine.toml")
    .option("--confirm-timeout <seconds>", "hold the new system until oscd deploy-target confirm arrives; roll back without it (0: no wait)", seconds, 0)
    .option("--release-version <v>", "the release's version (checked against the running one: no downgrade)")
    .option("--release-commit <sha>", "the release's commit")
    .option("--release-ref <ref>", "the release's ref")
    .option("--release-tag <tag>", "the release's tag")
    .option("--allow-downgrade", "accept a release older than the running one")
    .option("--retry-failed", "try a system that already failed on this machine")
    .option("--force", "activate even if the system already runs this toplevel")
    .option("--id <id>", "the deployment id to use (default: a new one)")
    .option("--follow", "after the id, print the status as JSON lines until it awaits its confirmation or ends")
    .action(async (toplevel: string, o: StartFlags) => {
      const id = await startTargetDeployment(
        {
          toplevel,
          mode: o.mode,
          host: o.host,
          machineConfig: o.config,
          confirmTimeoutMs: o.confirmTimeout * 1000,
          release: { version: o.releaseVersion, commit: o.releaseCommit, ref: o.releaseRef, tag: o.releaseTag },
          allowDowngrade: o.allowDowngrade,
          retryFailed: o.retryFailed,
          force: o.force,
        },
        { node: process.execPath, script: process.argv[1] ?? "" },
        undefined,
        o.id === undefined ? undefined : checkDeploymentId(o.id),
      );
      process.stdout.write(JSON.stringify({ id }) + "\n");
      if (o.follow) await followTargetDeployment(id, { untilAwaitingConfirm: true, onStatus: line });
    });
  cmd
    .command("run", { hidden: true })
    .argument("<id>")
    .description("the detached activation itself (started by start)")
    .action(async (id: string) => {
      const s = await runTargetDeployment(checkDeploymentId(id));
      process.exitCode = s.error?.exitCode ?? 0;
    });
  cmd
    .command("follow")
    .argument("<id>")
    .description("print the deployment's status as JSON lines until it ends (or awaits its confirmation)")
    .option("--until-awaiting-confirm", "stop when the deployment waits for its confirmation")
    .option("--max-seconds <s>", "stop after this long", seconds, 3600)
    .action(async (id: string, o: { untilAwaitingConfirm?: boolean; maxSeconds: number }) => {
      await followTargetDeployment(checkDeploymentId(id), { untilAwaitingConfirm: o.untilAwaitingConfirm, maxMs: o.maxSeconds * 1000, onStatus: line });
    });
  cmd
    .command("confirm")
    .argument("<id>")
    .description("confirm a deployment awaiting its confirmation (run over a new SSH connection)")
    .option("--follow", "then print the status as JSON lines until the deployment ends")
    .action(async (id: string, o: { follow?: boolean }) => {
      line(await confirmTargetDeployment(checkDeploymentId(id)));
      if (o.follow) await followTargetDeployment(id, { onStatus: line });
    });
  cmd
    .command("reject")
    .argument("<id>")
    .description("roll back a deployment awaiting its confirmation now (the deployer's own checks failed), then follow it to its end")
    .option("--reason <text>", "why, for the status and the history", "rejected by the deployer")
    .action(async (id: string, o: { reason: string }) => {
      line(await rejectTargetDeployment(checkDeploymentId(id), o.reason));
      await followTargetDeployment(id, { onStatus: line });
    });
  cmd
    .command("put-keys")
    .description("write the keys given as JSON lines on standard input (destination, owner, group, mode, content), never through a link another user can change")
    .action(async () => {
      await writeKeys(await readKeyRequest(process.stdin));
    });
  cmd
    .command("status")
    .argument("<id>")
    .description("print the deployment's status as JSON")
    .action(async (id: string) => {
      line(await settledStatus(checkDeploymentId(id)));
    });
}
