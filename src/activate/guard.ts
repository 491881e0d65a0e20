import { readFile } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { GuardError } from "../core/errors.js";
import type { FailedRelease, GenerationRecord } from "./records.js";
import type { ReleaseInfo } from "./journal.js";

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface GuardInput {
  toplevel: string;
  host: string;
  machineIdFile: string;
  release: ReleaseInfo;
  /** Record of the generation running now, if oscd made it. */
  current?: GenerationRecord;
  failed: readonly FailedRelease[];
  allowDowngrade: boolean;
  retryFailed: boolean;
}

/**
 * Refuses a toplevel that is not for this machine, a release older than the running one, or
 * one that already failed here. Each refusal is exit 3 and names the cause.
 */
export async function guard(g: GuardInput): Promise<void> {
  const target = await readTrimmed(join(g.toplevel, "etc", "hostname"));
  if (target !== undefined && target !== g.host) {
    throw new GuardError("wrong-host", `${g.toplevel} is a system for host ${target}, but this is ${g.host}`, "deploy the toplevel built for this host, or pass --host if this machine has another fleet name");
  }
  const wantId = await readTrimmed(join(g.toplevel, "etc", "machine-id"));
  const haveId = await readTrimmed(g.machineIdFile);
  if (wantId !== undefined && haveId !== undefined && wantId !== haveId) {
    throw new GuardError("wrong-machine", `${g.toplevel} is for machine id ${wantId}, but this machine is ${haveId}`, "check the host's machineId in oscd.toml");
  }
  const next = g.release.version;
  const cur = g.current?.version;
  if (next && cur && semver.valid(next) && semver.valid(cur) && semver.lt(next, cur) && !g.allowDowngrade) {
    throw new GuardError("downgrade", `version ${next} is older than the running ${cur}`, "pass --allow-downgrade to go back on purpose, or use oscd rollback");
  }
  const failed = g.failed.find((f) => f.toplevel === g.toplevel);
  if (failed && !g.retryFailed) {
    throw new GuardError("failed-before", `${g.toplevel}${failed.version ? ` (version ${failed.version})` : ""} failed here at ${failed.at}: ${failed.reason}`, "fix the release, or pass --retry-failed to try the same system again");
  }
}
