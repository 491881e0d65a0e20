import { Command, Option } from "commander";
import { hostname } from "node:os";
// The stage's light entry: an activation with nothing to do loads neither the deployment's steps
// nor, without --manifest, the manifest and its trust walk.
import { activate, type ReleaseInfo } from "../../activate/light.js";
import { UsageError } from "../../core/errors.js";
import { fullHealth, loadMachineConfig, OPERATIONS, type Operation } from "../../fleet/light.js";
import { printJson } from "../output.js";
import type { TrustUpdate } from "../../trust/index.js";
import { progressPrinter } from "../progress.js";
import { printActivation } from "./print-activation.js";

interface ActivateOptions {
  mode: Operation;
  host?: string;
  config: string;
  manifest?: string;
  bundle?: string;
  releaseVersion?: string;
  allowDowngrade?: boolean;
  allowNoExpiry?: boolean;
  allowExpired?: boolean;
  allowUncheckedHost?: boolean;
  allowUncheckedMachineId?: boolean;
  allowUncheckedVersion?: boolean;
  retryFailed?: boolean;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerActivate(program: Command): void {
  program
    .command("activate")
    .argument("[toplevel]", "a NixOS system toplevel store path, built here or in a trusted cache (optional with --manifest: this host's entry)")
    .description("move this machine to a system with the activation engine: realise, guard, profile, switch, health checks, commit or roll back")
    .addOption(new Option("--mode <mode>", "switch, boot, test or dry-activate").choices(OPERATIONS).default("switch"))
    .option("--host <name>", "this machine's name in the fleet (default: host in the machine configuration, else its hostname)")
    .option("--config <file>", "machine configuration", "/etc/oscd/machine.toml")
    .addOption(new Option("--manifest <file|url>", "take the system and its release facts from a signed channel manifest (file path or http(s) URL)").conflicts("releaseVersion"))
    .option("--release-version <version>", "the version of the toplevel, for the downgrade check (without --manifest)")
    .option("--allow-downgrade", "accept a release older than the running one")
    .option("--allow-no-expiry", "accept a manifest or bundle without expiresAt (made by an oscd before expiry existed)")
    .option("--allow-expired", "with --bundle: accept a bundle whose expiresAt has passed (every other check still applies)")
    .option("--allow-unchecked-host", "accept a toplevel that names no host (no etc/hostname), so the host check cannot be made")
    .option("--allow-unchecked-machine-id", "accept a toplevel pinned to a machine id that cannot be compared with this machine's")
    .option("--allow-unchecked-version", "accept a system whose version cannot be compared with the running release (not semver, or not given)")
    .option("--retry-failed", "try a system that already failed on this machine")
    .option("--force", "activate even if the system already runs this toplevel")
    .option("--bundle <dir>", "a bundle from oscd bundle: verified completely, then imported and activated")
    .option("--json", "print the result as JSON")
    .option("-q, --quiet", "no progress lines")
    .addHelpText(
      "after",
      `
Examples:
  oscd activate --manifest https://cache.example.org/channels/main.json
  oscd activate --manifest ./main.json --mode boot                    # next boot only
  oscd activate --release-version 1.2.0 /nix/store/…-nixos-system-web1-1.2.0
  oscd activate --mode test /nix/store/…                              # now, not on the boot menu
  oscd activate --bundle /media/usb/web1                              # an air-gapped bundle

What is checked:
  always: the path is realised with Nix's signature checks on (trustedPublicKeys of the
    machine configuration); the toplevel's etc/hostname is this host (refused when it has
    none, unless --allow-unchecked-host); its etc/machine-id, when it has one, is this
    machine's; a system that failed here is not retried (unless --retry-failed).
  always, too: no revocation list this machine holds names the release or toplevel
    (release-revoked; oscd trust show lists them).
  with --manifest: newer trust roots and the channel's revocation list are first walked
    from trust/ beside the manifest (docs/trust.md); the manifest carries its channel's
    release threshold (or, before the machine has a trust root, a signature by one of its
    trustedPublicKeys), names this host (and the given
    toplevel, if any), its channel sequence is newer than the last one this host applied
    (kept in /var/lib/oscd/channels.json), and its version is not older than the running
    release (unless --allow-downgrade); it has not expired (expiresAt, 5 minutes of clock skew
    tolerated; one without expiresAt is refused unless --allow-no-expiry).
  with --bundle: the same for the bundle's manifest (an expired bundle is refused unless
    --allow-expired), and every narinfo and NAR: regular files, signed, the exact hash.
  with --release-version: that version is not older than the running release.
  A version that is not semver cannot be compared: refused unless --allow-unchecked-version.
  with none of --manifest, --bundle, --release-version: nothing says which release the
    toplevel is. On a machine that runs a release oscd recorded, that is refused
    (version-unverifiable: it may be an older system) unless --allow-unchecked-version.
    Prefer --manifest.

A failed switch or health check rolls back to the previous system and exits 4;
a refusal by a guard exits 3.`,
    )
    .action(async (toplevelArg: string | undefined, o: ActivateOptions) => {
      if (o.bundle !== undefined) return activateFromBundle(toplevelArg, o);
      if (o.allowExpired) throw new UsageError("--allow-expired goes with --bundle", "a channel manifest that expired is refused: publish again (oscd publish --refresh)");
      if (toplevelArg === undefined && o.manifest === undefined) throw new UsageError("oscd activate needs a toplevel store path, --manifest or --bundle", "see oscd activate --help");
      if (o.releaseVersion !== undefined && !/^[\x21-\x7e]{1,128}$/.test(o.releaseVersion)) throw new UsageError("--release-version must be one word of printable characters", "e.g. --release-version 1.2.0");
      const machine = await loadMachineConfig(o.config);
      const host = o.host ?? machine.host ?? hostname();
      let toplevel = toplevelArg;
      let release: ReleaseInfo | undefined = o.releaseVersion !== undefined ? { version: o.releaseVersion } : undefined;
      let substituters = machine.substituters;
      const say = progressPrinter(!o.quiet && !o.json, host);
      if (o.manifest !== undefined) {
        const onTrust = (u: TrustUpdate) => {
          if (u.walked.length > 0) say("trust", `trust root version ${u.from} → ${u.to} (walked ${u.walked.join(", ")})`);
          if (u.offeredOlder !== undefined) say("trust", `trust root version ${u.offeredOlder} offered and refused: this machine has version ${u.to}`);
          if (u.revocations !== undefined) say("trust", `revocation list version ${u.revocations}`);
        };
        const { releaseFromManifest } = await import("../../activate/index.js");
        const m = await releaseFromManifest({ location: o.manifest, host, trustedPublicKeys: machine.trustedPublicKeys, trustRoot: machine.trustRoot, toplevel: toplevelArg, allowNoExpiry: o.allowNoExpiry, substituters: machine.substituters, onTrust });
        say("manifest", `channel ${m.manifest.channel} sequence ${m.manifest.sequence}, version ${m.manifest.version.replace(/[^\x20-\x7e]/g, "?")}, signed by ${m.signer}`);
        toplevel = m.toplevel;
        release = m.release;
        substituters = m.substituters;
      }
      const result = await activate({
        toplevel: toplevel as string,
        mode: o.mode,
        host,
        release,
        substituters,
        trustedPublicKeys: machine.trustedPublicKeys,
        trustRoot: machine.trustRoot,
        health: fullHealth(machine.health),
        retention: machine.retention,
        ...guardFlags(o),
        onProgress: say,
      });
      if (o.json) printJson(result);
      else printActivation(result);
    });
}

/** What the guard flags give up, the same for a toplevel, a manifest and a bundle. */
function guardFlags(o: ActivateOptions) {
  return {
    allowDowngrade: o.allowDowngrade,
    allowUnchecked: { host: o.allowUncheckedHost, machineId: o.allowUncheckedMachineId, version: o.allowUncheckedVersion },
    retryFailed: o.retryFailed,
    force: o.force,
  };
}

/** --bundle: the bundle's signed manifest gives the toplevel and the release facts. */
async function activateFromBundle(toplevel: string | undefined, o: ActivateOptions): Promise<void> {
  if (toplevel !== undefined || o.manifest !== undefined || o.releaseVersion !== undefined) {
    throw new UsageError("--bundle takes no toplevel, --manifest or --release-version", "the bundle's signed manifest names this host's toplevel and its release");
  }
  const machine = await loadMachineConfig(o.config);
  const host = o.host ?? machine.host ?? hostname();
  // The deploy stage only for a bundle: a plain activation starts without loading it.
  const { activateBundle } = await import("../../deploy/index.js");
  const { result } = await activateBundle(o.bundle as string, {
    mode: o.mode,
    host,
    trustedPublicKeys: machine.trustedPublicKeys,
    trustRoot: machine.trustRoot,
    health: fullHealth(machine.health),
    retention: machine.retention,
    ...guardFlags(o),
    checks: { allowExpired: o.allowExpired, allowNoExpiry: o.allowNoExpiry },
    onProgress: progressPrinter(!o.quiet && !o.json, host),
  });
  if (o.json) printJson(result);
  else printActivation(result);
}
