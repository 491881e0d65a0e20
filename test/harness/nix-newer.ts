import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { whichOnPath } from "../../src/nix/version.js";

/**
 * OSCD_TEST_NIX=newer runs the tests with a `nix` (and `nix-store`, `nix-env`) first on PATH
 * that presents the shapes and wordings of a newer Nix over the installed one: see
 * nix-newer/wrap.mjs. scripts/test.sh runs the e2e tests that read Nix's output and its
 * refusals once more this way, so each flow is proven on both shapes. The same PATH is given to
 * simulated hosts (simhost.ts) and to their sshd's sessions (sshd.ts).
 */
export const NEWER_NIX = process.env.OSCD_TEST_NIX === "newer";

/** The release the wrapper presents. */
export const NEWER_NIX_VERSION = "2.35.2";

const WRAP = join(dirname(fileURLToPath(import.meta.url)), "nix-newer", "wrap.mjs");
const TOOLS = ["nix", "nix-store", "nix-env"];

let bin: string | undefined;

/**
 * The directory of the wrapper's commands, made once per process under /tmp (seen by every
 * simulated host: /tmp is not one of their private directories). Its name is a hash of what it
 * runs, so test processes share it and never see a half-written script.
 */
export function newerNixBin(): string {
  if (bin) return bin;
  const realNix = whichOnPath("nix", (process.env.PATH ?? "").split(":").filter((d) => !d.includes("/oscd-nix-newer-")).join(":"));
  if (!realNix) throw new Error("harness: OSCD_TEST_NIX=newer needs the real nix on PATH");
  const realDir = dirname(realNix);
  const id = createHash("sha256").update([process.execPath, WRAP, realDir, NEWER_NIX_VERSION, readFileSync(WRAP, "utf8")].join("\0")).digest("hex").slice(0, 16);
  const dir = join("/tmp", `oscd-nix-newer-${id}`, "bin");
  mkdirSync(dir, { recursive: true });
  for (const tool of TOOLS) {
    const script = `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(WRAP)} ${JSON.stringify(realDir)} ${NEWER_NIX_VERSION} ${tool} "$@"\n`;
    const tmp = join(dir, `.${tool}.${process.pid}`);
    writeFileSync(tmp, script);
    chmodSync(tmp, 0o755);
    renameSync(tmp, join(dir, tool));
  }
  bin = dir;
  return dir;
}

/** `path` with the wrapper's directory first when OSCD_TEST_NIX=newer. */
export function withNewerNix(path: string): string {
  return NEWER_NIX ? `${newerNixBin()}:${path}` : path;
}
