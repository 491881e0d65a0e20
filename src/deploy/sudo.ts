import { registerSecret } from "../core/command-log.js";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { UsageError } from "../core/errors.js";
import { commandLine } from "./ssh.js";

/**
 * How commands run as root on a host: directly when the SSH user is root, else through sudo.
 * Whether a host's sudo asks for a password is probed per host (`sudo -n`, see probe.ts):
 * - `{ kind: "sudo" }` (no password): `sudo -n`, and the password never goes to that host;
 * - `{ kind: "sudo", password }`: `sudo -S -k`, the password on the first line of standard
 *   input (never in arguments, the environment or logs; `-k` so sudo reads it every time and a
 *   cached ticket never leaves the line for the command). The command's own input follows a
 *   FRAME line, and a small shell in front of the command drops everything up to it: should
 *   sudo not read the password after all (a rule that changed, a NOPASSWD command), the line
 *   is discarded there instead of becoming the first line of a key file or a request.
 */
export type Elevation = { kind: "root" } | { kind: "sudo"; password?: string };

/**
 * Runs as root after sudo: reads the line(s) before the frame marker (`$0`, random per call)
 * and drops them, then gives the rest of its input to the command. At most one line (the
 * password sudo did not read) may come before the marker; anything else is refused.
 */
const FRAME = 'IFS= read -r l || exit 125; if [ "$l" != "$0" ]; then IFS= read -r l && [ "$l" = "$0" ] || { echo "oscd: the input after the sudo password is not framed as expected" >&2; exit 125; }; fi; exec "$@"';

export function elevated(e: Elevation, argv: readonly string[], input?: string): { remote: string; input?: string } {
  if (e.kind === "root") return { remote: commandLine(argv), input };
  if (e.password === undefined) return { remote: commandLine(["sudo", "-n", "--", ...argv]), input };
  const marker = `oscd-frame-${randomBytes(12).toString("hex")}`;
  return { remote: commandLine(["sudo", "-S", "-k", "-p", "", "--", "sh", "-c", FRAME, marker, ...argv]), input: `${e.password}\n${marker}\n${input ?? ""}` };
}

/** A remote shell script run as root (the probe and bare steps need a shell). */
export function elevatedScript(e: Elevation, script: string, input?: string): { remote: string; input?: string } {
  return elevated(e, ["sh", "-c", script], input);
}

/** sudo's answer to `sudo -n` on a host where it asks for a password: send it there. */
export const SUDO_NEEDS_PASSWORD = /a password is required/i;

export const SUDO_REFUSED = /incorrect password|Sorry, try again|no password was provided|a password is required|is not in the sudoers|may not run sudo/i;

/** The sudo password from a file (first line), e.g. a tmpfs file a CI secret manager wrote. */
export async function passwordFromFile(path: string): Promise<string> {
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read the sudo password file ${path}: ${e.code ?? e.message}`, "pass a readable file with --sudo-password-file or OSCD_SUDO_PASSWORD_FILE");
  });
  const password = text.split("\n")[0] ?? "";
  registerSecret(password);
  return password;
}

/** Asks on the terminal without echo. Undefined when there is no terminal to ask on. */
export async function passwordFromTerminal(prompt: string): Promise<string | undefined> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return undefined;
  // Echo goes off before the prompt shows: an answer typed at once must never be echoed.
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(prompt);
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = "";
      const onData = (d: Buffer) => {
        for (const ch of d.toString("utf8")) {
          if (ch === "\r" || ch === "\n") {
            stdin.off("data", onData);
            registerSecret(text);
            resolve(text);
            return;
          }
          if (ch === "\u0003") {
            stdin.off("data", onData);
            reject(new UsageError("sudo password prompt interrupted", undefined, "interrupted"));
            return;
          }
          if (ch === "\u007f") text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}
