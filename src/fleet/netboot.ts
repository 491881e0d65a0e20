import { UsageError } from "../core/errors.js";
import type { FleetFile } from "./schema.js";

/** MAC address → host from `hosts.<name>.netboot.mac`; a MAC given to two hosts is refused (exit 2). */
export function netbootMacs(config: Pick<FleetFile, "hosts">): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, h] of Object.entries(config.hosts)) {
    const mac = h?.netboot?.mac;
    if (!mac) continue;
    const other = out.get(mac);
    if (other !== undefined) throw new UsageError(`hosts ${other} and ${name} both have netboot.mac ${mac}`, "each machine's MAC address belongs to one host", "netboot-mac-duplicate");
    out.set(mac, name);
  }
  return out;
}
