import { readFile } from "node:fs/promises";
import { UsageError } from "../core/errors.js";
import { commandLine } from "./ssh.js";

/**
 * How commands run as root on a host: directly when the SSH user is root, else through sudo.
 * The password is asked once per deploy and given to each `sudo -S` on its standard input:
 * never in arguments, the environment or logs. `-k` makes sudo read it every time, so a
 * cached sudo ticket never leaves the password line for the command to read instead.
 */
export type Elevation = { kind: "root" } | { kind: "sudo"; password?: string };

export function elevated(e: Elevation, argv: readonly string[], input?: string): { remote: string; input?: string } {
  if (e.kind === "root") return { remote: commandLine(argv), input };
  if (e.password === undefined) return { remote: commandLine(["sudo", "-n", "--", ...argv]), input };
  return { remote: commandLine(["sudo", "-S", "-k", "-p", "", "--", ...argv]), input: `${e.password}\n${input ?? ""}` };
}

/** A remote shell script run as root (the probe and bare steps need a shell). */
export function elevatedScript(e: Elevation, script: string, input?: string): { remote: string; input?: string } {
  return elevated(e, ["sh", "-c", script], input);
}

export const SUDO_REFUSED = /incorrect password|Sorry, try again|no password was provided|a password is required|is not in the sudoers|may not run sudo/i;

/** The sudo password from a file (first line), e.g. a tmpfs file a CI secret manager wrote. */
export async function passwordFromFile(path: string): Promise<string> {
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read the sudo password file ${path}: ${e.code ?? e.message}`, "pass a readable file with --sudo-password-file or OSCD_SUDO_PASSWORD_FILE");
  });
  return text.split("\n")[0] ?? "";
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
