import { registerSecret } from "../core/command-log.js";
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

function registered(text: string): string {
  registerSecret(text);
  return text;
}

/**
 * The secret's bytes, read on the deployer: a file (relative to the fleet checkout), a
 * command's standard output, or the text. Errors name the key, never its content.
 */
export async function secretContent(s: Secret, baseDir: string): Promise<string> {
  const c = s.config;
  // The content never shows in `oscd -v` (core/command-log.ts).
  if (c.text !== undefined) return registered(c.text);
  if (c.file !== undefined) {
    const path = isAbsolute(c.file) ? c.file : resolve(baseDir, c.file);
    return readFile(path, "utf8").then(registered, (e: NodeJS.ErrnoException) => {
      throw new OscdError("key-source", `key ${s.name}: cannot read ${path}: ${e.code ?? "error"}`, { hint: "check the key's file in oscd.toml", exitCode: 2 });
    });
  }
  const argv = c.command as string[];
  const r = await run(argv[0] as string, argv.slice(1), { timeoutMs: 60_000, cwd: baseDir });
  if (r.exitCode !== 0) throw new OscdError("key-source", `key ${s.name}: ${argv[0]} exited ${r.exitCode}`, { hint: "run the key's command yourself to see why" });
  return registered(r.stdout);
}

/**
 * Hosts without oscd get this shell upload. A shell cannot pin a directory, so it works by
 * path only where nobody but root can change a name on the way: every existing directory of
 * the destination's path must be root's and not writable by group or others, and none a
 * symbolic link; anything else is refused (exit 3, `oscd-key-unsafe:`). Then a temporary file
 * gets its owner and mode before the content lands and is renamed over the destination
 * (`mv -T`: a directory there is an error, never a place to move into).
 */
const UPLOAD = [
  "set -eu",
  'dest=$0 owner=$1 group=$2 mode=$3',
  'unsafe() { echo "oscd-key-unsafe: $1" >&2; exit 3; }',
  'rootonly() { s=$(stat -c "%u %a" -- "$1"); [ "${s%% *}" = 0 ] && [ $(( 0${s#* } & 022 )) -eq 0 ]; }',
  'rootonly / || unsafe "/ can be changed by a user other than root"',
  'p=',
  'for c in $(echo "${dest%/*}" | tr / " "); do',
  '  [ "$c" = . ] && continue',
  '  p=$p/$c',
  '  if [ -L "$p" ]; then unsafe "$p is a symbolic link (this host has no oscd to follow it safely; give the real path)"; fi',
  '  if [ -e "$p" ]; then [ -d "$p" ] || unsafe "$p is not a directory"; rootonly "$p" || unsafe "$p can be changed by a user other than root (this host has no oscd to write there safely)"',
  // Missing directories are made traversable (0755), so the owner can reach the file.
  '  else (umask 022; mkdir "$p"); fi',
  "done",
  "umask 077",
  't=$(mktemp "${dest%/*}/.oscd-key.XXXXXXXX")',
  'trap \'rm -f "$t"\' EXIT',
  'chown "$owner:$group" "$t"; chmod "$mode" "$t"',
  'cat > "$t"',
  'mv -f -T "$t" "$dest"',
  "trap - EXIT",
].join("\n");

/** An error oscd printed on the host (`oscd: error[CODE]: …`), as the deployer's own, for this host. */
function remoteError(host: string, what: string, res: { exitCode: number; stderr: string }, fallbackHint: string): OscdError {
  const m = /error\[([a-z0-9-]+)\]: ([^\n]*)/.exec(res.stderr);
  const unsafe = /oscd-key-unsafe: ([^\n]*)/.exec(res.stderr);
  const exitCode = res.exitCode === 2 || res.exitCode === 3 ? res.exitCode : 1;
  if (unsafe) return new OscdError("key-destination-unsafe", `${host}: ${what}: ${clean(unsafe[1] as string)}`, { hint: UNSAFE_HINT, exitCode: 3 });
  // The host's own refusal keeps its code; any other failure there is the upload's.
  if (m?.[1] === "key-destination-unsafe") return new OscdError("key-destination-unsafe", `${host}: ${clean(m[2] as string)}`, { hint: UNSAFE_HINT, exitCode: 3 });
  // `usage`: an oscd on the host that has no `deploy-target put-keys` (older than the deployer's).
  if (m) return new OscdError("key-upload-failed", `${host}: ${what} failed: ${clean(m[2] as string)}`, { hint: m[1] === "usage" ? "run the same oscd version on the host (the NixOS module installs it), or pass --remote-oscd" : fallbackHint, exitCode });
  return new OscdError("key-upload-failed", `${host}: ${what} failed: ${lastLine(res.stderr)}`, { hint: fallbackHint, exitCode });
}

const clean = (s: string) => s.replace(/[^\x20-\x7e]/g, "?").slice(0, 300);
const UNSAFE_HINT = "deliver the key to a directory only root can change (the default /run/keys/<key>), or remove the symbolic link its owner can change";
const OWNER_HINT = "check that the owner and group exist on the host";

/**
 * Uploads keys on standard input (after the sudo password and its frame, where sudo asks for
 * one). A host with oscd writes them all in one `oscd deploy-target put-keys` (target/keys.ts:
 * pinned directories, no link followed that another user controls); a host without oscd gets
 * the shell upload above, one key at a time.
 */
export async function uploadKeys(r: Remote, oscdOnHost: boolean, keys: { secret: Secret; content: string }[]): Promise<void> {
  if (keys.length === 0) return;
  if (oscdOnHost) {
    const lines = keys.map(({ secret: s, content }) => JSON.stringify({ name: s.name, destination: destinationOf(s), owner: s.config.owner, group: s.config.group, mode: s.config.mode, content }) + "\n").join("");
    const call = elevated(r.elevation, [...r.oscd, "deploy-target", "put-keys"], lines);
    const what = `uploading key(s) ${keys.map((k) => k.secret.name).join(", ")}`;
    const res = await sshRun(r.target, r.ssh, call.remote, { input: call.input ?? "", timeoutMs: 60_000 });
    if (res.exitCode === 255) throw new SshError(r.target.host, res, what);
    if (res.exitCode !== 0) throw remoteError(r.target.host, what, res, OWNER_HINT);
    return;
  }
  for (const { secret: s, content } of keys) {
    const c = s.config;
    const call = elevated(r.elevation, ["sh", "-c", UPLOAD, destinationOf(s), c.owner, c.group, c.mode], content);
    const what = `uploading key ${s.name} to ${destinationOf(s)}`;
    const res = await sshRun(r.target, r.ssh, call.remote, { input: call.input ?? "", timeoutMs: 60_000 });
    if (res.exitCode === 255) throw new SshError(r.target.host, res, what);
    if (res.exitCode !== 0) throw remoteError(r.target.host, what, res, OWNER_HINT);
  }
}
