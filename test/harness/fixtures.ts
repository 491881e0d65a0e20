import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { must } from "./sh.js";

export const FAKE_TOPLEVEL_FILE = join(dirname(fileURLToPath(import.meta.url)), "nix", "fake-toplevel.nix");

export interface FakeToplevelArgs {
  hostname: string;
  version?: string;
  kernelVersion?: string;
  marker?: string;
  failSwitch?: boolean;
  health?: "ok" | "failing";
  machineId?: string;
  /** KiB of zeros in a path of the closure of its own (store size, disk-space tests). */
  payloadKiB?: number;
  /** A Nix expression for the text of etc/systemd/system/oscd-agent.service (its store paths become references). */
  agentUnitExpr?: string;
  /** The switch waits until /run/fake-nixos/gate exists in the host (a slow switch). */
  gate?: boolean;
}

/** Builds a fake NixOS toplevel in the test machine's store; returns its path. */
export async function buildFakeToplevel(args: FakeToplevelArgs): Promise<string> {
  const attrs = Object.entries(args)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => (k === "agentUnitExpr" ? `agentUnit = ${String(v)};` : `${k} = ${typeof v === "boolean" || typeof v === "number" ? String(v) : JSON.stringify(String(v))};`))
    .join(" ");
  const r = await must("nix-build", ["--no-out-link", "-E", `import ${FAKE_TOPLEVEL_FILE} { ${attrs} }`], { timeoutMs: 120_000 });
  return r.stdout.trim();
}

/** A marker no other test run uses, so each test builds paths of its own. */
export function uniqueMarker(): string {
  return randomBytes(6).toString("hex");
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `oscd-${prefix}-`));
}
