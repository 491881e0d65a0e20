/**
 * The SSH target of a host in oscd.toml (`hosts.<name>.ssh`): `[user@]address[:port]`, the
 * address a host name, an IPv4 address or an IPv6 address in brackets (`[fd00::7]:2222`).
 * The address goes to ssh as an argument and the port as `-p PORT`, never as text for a shell;
 * nothing that an option parser could read as a flag (a leading '-') gets through.
 */
const PORT = "[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]";
/** The whole rule as one pattern, so the fleet's JSON schema carries it too (port 1 to 65535 included). */
export const SSH_TARGET_PATTERN = new RegExp(`^(?:([A-Za-z0-9._][A-Za-z0-9._-]{0,31})@)?(?:([A-Za-z0-9_][A-Za-z0-9._-]*)|\\[([0-9A-Fa-f:.]+)\\])(?::(${PORT}))?$`);

export interface SshTargetParts {
  user?: string;
  /** Without brackets: ssh and Nix take an IPv6 address bare (`root@fd00::7`). */
  address: string;
  port?: number;
}

/** The parts of an SSH target, or a one-line reason why it is not one. */
export function splitSshTarget(text: string): SshTargetParts | { error: string } {
  const m = SSH_TARGET_PATTERN.exec(text);
  if (!m) {
    return {
      error: /^[^[\]]*:[^[\]]*:/.test(text)
        ? "an IPv6 address goes in brackets, e.g. root@[fd00::7]:2222"
        : /:[0-9]+$/.test(text)
          ? "an SSH port is a number from 1 to 65535"
          : "an SSH target looks like root@web1.example.org, web1, deploy@10.0.0.5:2222 or root@[fd00::7]:2222 (no leading '-', no spaces)",
    };
  }
  return { user: m[1], address: (m[2] ?? m[3]) as string, port: m[4] === undefined ? undefined : Number(m[4]) };
}
