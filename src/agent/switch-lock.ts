import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { GuardError } from "../core/errors.js";

/**
 * NixOS's switch-to-configuration takes an flock on /run/nixos/switch-to-configuration.lock.
 * When another process holds it (a stuck manual switch, a hung activation script), starting a
 * switch would block forever (deploy-rs #390): the agent reports the holder and retries later.
 * A lock file nobody holds (left by a killed switch) is harmless: flock ends with its holder.
 */
export async function checkSwitchLock(runDir: string): Promise<void> {
  const path = join(runDir, "nixos", "switch-to-configuration.lock");
  let ino: number;
  try {
    ino = (await stat(path)).ino;
  } catch {
    return;
  }
  const holder = lockHolder(await readFile("/proc/locks", "utf8").catch(() => ""), ino);
  if (holder !== undefined && holder !== process.pid) {
    let command = "";
    try {
      command = (await readFile(`/proc/${holder}/cmdline`, "utf8")).split("\0").filter(Boolean).join(" ").slice(0, 200);
    } catch {
      command = "(gone)";
    }
    throw new GuardError("switch-locked", `switch-to-configuration is locked by process ${holder} (${command.replace(/[^\x20-\x7e]/g, "?")})`, "another activation is running or hung; the agent retries; end that process if it is stuck");
  }
}

/** The pid holding a lock on inode `ino` according to /proc/locks, if any. */
export function lockHolder(procLocks: string, ino: number): number | undefined {
  for (const line of procLocks.split("\n")) {
    // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF" (blocked waiters have "->")
    const f = line.trim().split(/\s+/);
    if (f.includes("->")) continue;
    const dev = f[5];
    if (!dev) continue;
    if (Number(dev.split(":")[2]) === ino) return Number(f[4]);
  }
  return undefined;
}
