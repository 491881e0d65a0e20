import { readFile, realpath } from "node:fs/promises";
import { join } from "node:path";

export interface RebootNeed {
  needed: boolean;
  /** Which of kernel, initrd, kernel-modules, kernel-params differ. */
  reasons: string[];
}

async function target(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch {
    return undefined;
  }
}

async function text(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    return undefined;
  }
}

/**
 * A reboot is needed when the kernel, initrd, kernel modules or kernel parameters of the new
 * system differ from the booted one (what autoUpgrade's allowReboot and comin compare).
 */
export async function rebootNeeded(toplevel: string, bootedSystem: string): Promise<RebootNeed> {
  const booted = await target(bootedSystem);
  if (!booted) return { needed: false, reasons: [] };
  const reasons: string[] = [];
  for (const part of ["kernel", "initrd", "kernel-modules"]) {
    if ((await target(join(toplevel, part))) !== (await target(join(booted, part)))) reasons.push(part);
  }
  if ((await text(join(toplevel, "kernel-params"))) !== (await text(join(booted, "kernel-params")))) reasons.push("kernel-params");
  return { needed: reasons.length > 0, reasons };
}
