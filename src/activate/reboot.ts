import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";

export interface RebootNeed {
  needed: boolean;
  /** Which of kernel, initrd, kernel-modules, kernel-params differ. */
  reasons: string[];
}

// Synchronous, as the state files (core/atomic.ts): a few small reads at every status and activation.
function target(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function text(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * A reboot is needed when the kernel, initrd, kernel modules or kernel parameters of the new
 * system differ from the booted one (what autoUpgrade's allowReboot and comin compare).
 */
export async function rebootNeeded(toplevel: string, bootedSystem: string): Promise<RebootNeed> {
  const booted = target(bootedSystem);
  if (!booted) return { needed: false, reasons: [] };
  const reasons: string[] = [];
  for (const part of ["kernel", "initrd", "kernel-modules"]) {
    if (target(join(toplevel, part)) !== target(join(booted, part))) reasons.push(part);
  }
  if (text(join(toplevel, "kernel-params")) !== text(join(booted, "kernel-params"))) reasons.push("kernel-params");
  return { needed: reasons.length > 0, reasons };
}
