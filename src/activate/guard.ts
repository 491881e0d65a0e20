import { readFile } from "node:fs/promises";
import { join } from "node:path";
// The two functions, not the package's index: that loads all 47 of its files, which cost every
// start of `oscd activate` and `oscd status` ~30 ms of CPU.
import semverLt from "semver/functions/lt.js";
import semverValid from "semver/functions/valid.js";
import { GuardError } from "../core/errors.js";
import type { FailedRelease, GenerationRecord } from "./records.js";
import type { ReleaseInfo } from "./journal.js";
import { ReleaseRevokedError, type RevokedMatch } from "../trust/index.js";

/** The file's trimmed text; "" when it is empty; undefined when it does not exist or cannot be read. */
async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    return undefined;
  }
}

const MACHINE_ID = /^[0-9a-f]{32}$/;

/** Text from the toplevel goes into a one-line error: anything but printable ASCII is shown as "?". */
const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);

/**
 * Checks the caller explicitly gives up, each for when it cannot be made: the toplevel names
 * no host; its machine id cannot be compared; a version is not semver.
 */
export interface UncheckedAllowed {
  host?: boolean;
  machineId?: boolean;
  version?: boolean;
}

export interface GuardInput {
  toplevel: string;
  host: string;
  machineIdFile: string;
  release: ReleaseInfo;
  /** Record of the generation running now, if oscd made it. */
  current?: GenerationRecord;
  failed: readonly FailedRelease[];
  /** The last sequence this host applied from `release.channel`, if any. */
  lastSequence?: number;
  allowDowngrade: boolean;
  retryFailed: boolean;
  allowUnchecked?: UncheckedAllowed;
  /** The revocation entry naming this release or toplevel, if a revocation list this machine holds has one. */
  revoked?: RevokedMatch;
}

/**
 * Refuses a toplevel that is not for this machine, a release older than the running one, a
 * channel manifest not newer than the last one applied, or one that already failed here. A check
 * that cannot be made is a refusal too, unless the caller gave it up explicitly. Each refusal is
 * exit 3 and names the cause.
 */
export async function guard(g: GuardInput): Promise<void> {
  const allow = g.allowUnchecked ?? {};
  // Revoked means no machine may activate it again: no flag gives this up.
  if (g.revoked) throw new ReleaseRevokedError(g.revoked, g.toplevel);
  const target = await readTrimmed(join(g.toplevel, "etc", "hostname"));
  if (!target) {
    if (!allow.host) {
      throw new GuardError(
        "host-unverifiable",
        `${g.toplevel} names no host (etc/hostname is ${target === undefined ? "missing" : "empty"}), so it cannot be checked to be a system for ${g.host}`,
        "deploy a toplevel built with networking.hostName set, or pass --allow-unchecked-host if you know it is for this machine",
      );
    }
  } else if (target !== g.host) {
    throw new GuardError("wrong-host", `${g.toplevel} is a system for host ${printable(target)}, but this is ${g.host}`, "deploy the toplevel built for this host, or pass --host if this machine has another fleet name");
  }

  // A toplevel without etc/machine-id pins no machine (oscd.toml's machineId is optional, and
  // NixOS writes none unless told): the host name above is then the identity check. One that
  // has the file makes a claim, which must be checkable.
  const wantId = await readTrimmed(join(g.toplevel, "etc", "machine-id"));
  if (wantId !== undefined && !allow.machineId) {
    const haveId = await readTrimmed(g.machineIdFile);
    const why = !MACHINE_ID.test(wantId)
      ? `its etc/machine-id is ${wantId ? "not a machine id" : "empty"}`
      : !haveId || !MACHINE_ID.test(haveId)
        ? `this machine's ${g.machineIdFile} is ${haveId === undefined ? "missing" : "not a machine id"}`
        : undefined;
    if (why) throw new GuardError("machine-id-unverifiable", `${g.toplevel} is pinned to a machine id, but ${why}, so it cannot be checked`, "fix the machine id (systemd-machine-id-setup) or the host's machineId in oscd.toml, or pass --allow-unchecked-machine-id");
    if (wantId !== haveId) throw new GuardError("wrong-machine", `${g.toplevel} is for machine id ${wantId}, but this machine is ${haveId}`, "check the host's machineId in oscd.toml");
  }

  const { channel, sequence } = g.release;
  if (sequence !== undefined) {
    if (channel === undefined) throw new GuardError("manifest-replay", `release sequence ${sequence} names no channel, so it cannot be checked against what this host applied`, "pass the channel with the sequence");
    if (g.lastSequence !== undefined && sequence <= g.lastSequence) {
      throw new GuardError(
        "manifest-replay",
        `channel ${channel}: sequence ${sequence} is not newer than ${g.lastSequence}, the last one this host applied`,
        "an older or repeated manifest is a replay and is refused; publish a new one (oscd publish), or roll back with oscd rollback",
      );
    }
  }

  const next = g.release.version;
  const cur = g.current?.version;
  // Nothing to compare with when oscd has no version for the running system (first deployment).
  // The reverse is not that: the running system has a release, and nothing says which release
  // the new one is (a bare toplevel). It may be an older system, so it is refused like a version
  // that does not parse. The running toplevel itself (`--force`) is the release it was.
  if (!next && cur && g.toplevel !== g.current?.toplevel && !g.allowDowngrade && !allow.version) {
    throw new GuardError(
      "version-unverifiable",
      `this machine runs release ${printable(cur)}, and nothing says which release ${g.toplevel} is, so a downgrade cannot be ruled out`,
      "give its release: --manifest, --bundle or --release-version; or pass --allow-unchecked-version (or --allow-downgrade) to activate it anyway",
    );
  }
  if (next && cur && next !== cur && !g.allowDowngrade) {
    if (!semverValid(next) || !semverValid(cur)) {
      if (!allow.version) {
        throw new GuardError(
          "version-unverifiable",
          `version ${JSON.stringify(next)} cannot be compared with the running ${JSON.stringify(cur)} (not semantic versions), so a downgrade cannot be ruled out`,
          "give releases a version file with semantic versions, or pass --allow-unchecked-version (or --allow-downgrade) to go on",
        );
      }
    } else if (semverLt(next, cur)) {
      throw new GuardError("downgrade", `version ${next} is older than the running ${cur}`, "pass --allow-downgrade to go back on purpose, or use oscd rollback");
    }
  }
  const failed = g.failed.find((f) => f.toplevel === g.toplevel);
  if (failed && !g.retryFailed) {
    throw new GuardError("failed-before", `${g.toplevel}${failed.version ? ` (version ${failed.version})` : ""} failed here at ${failed.at}: ${failed.reason}`, "fix the release, or pass --retry-failed to try the same system again");
  }
}
