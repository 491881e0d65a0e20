import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { OscdError } from "../core/errors.js";
import { run } from "../core/exec.js";
import type { SecretConfig } from "../fleet/index.js";
import type { Remote } from "./remote.js";
import { lastLine, sshRun, SshError } from "./ssh.js";
import { elevated } from "./sudo.js";

export interface Secret {
  name: string;
  config: SecretConfig;
}

export function destinationOf(s: Secret): string {
  return s.config.destination ?? `/run/keys/${s.name}`;
}

/**
 * The secret's bytes, read on the deployer: a file (relative to the fleet checkout), a
 * command's standard output, or the text. Errors name the key, never its content.
 */
export async function secretContent(s: Secret, baseDir: string): Promise<string> {
  const c = s.config;
  if (c.text !== undefined) return c.text;
  if (c.file !== undefined) {
    const path = isAbsolute(c.file) ? c.file : resolve(baseDir, c.file);
    return readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
      throw new OscdError("key-source", `key ${s.name}: cannot read ${path}: ${e.code ?? "error"}`, { hint: "check the key's file in oscd.toml", exitCode: 2 });
    });
  }
  const argv = c.command as string[];
  const r = await run(argv[0] as string, argv.slice(1), { timeoutMs: 60_000, cwd: baseDir });
  if (r.exitCode !== 0) throw new OscdError("key-source", `key ${s.name}: ${argv[0]} exited ${r.exitCode}`, { hint: "run the key's command yourself to see why" });
  return r.stdout;
}

// Written next to the destination with a name nobody can guess, owner and mode set before the
// content lands, then renamed over it: the file never exists with other permissions.
const UPLOAD = [
  "set -e",
  // Missing parent directories are made traversable (0755), so the owner can reach the file.
  'd=$(dirname "$0"); (umask 022; mkdir -p "$d"); umask 077',
  't=$(mktemp "$0.oscd-XXXXXXXX")',
  'trap \'rm -f "$t"\' EXIT',
  'chown "$1:$2" "$t"; chmod "$3" "$t"',
  'cat > "$t"',
  'mv -f "$t" "$0"',
  "trap - EXIT",
].join("\n");

/** Uploads one secret on standard input (after the sudo password when there is one). */
export async function uploadSecret(r: Remote, s: Secret, content: string): Promise<void> {
  const c = s.config;
  const call = elevated(r.elevation, ["sh", "-c", UPLOAD, destinationOf(s), c.owner, c.group, c.mode], content);
  const res = await sshRun(r.target, r.ssh, call.remote, { input: call.input ?? "", timeoutMs: 60_000 });
  if (res.exitCode === 255) throw new SshError(r.target.host, res, `uploading key ${s.name}`);
  if (res.exitCode !== 0) throw new OscdError("key-upload-failed", `${r.target.host}: uploading key ${s.name} to ${destinationOf(s)} failed: ${lastLine(res.stderr)}`, { hint: "check that the owner and group exist on the host" });
}
