/**
 * What Nix means by what it writes on stderr, on every release oscd supports. Each meaning
 * lists the wordings of Nix 2.8, 2.18, 2.20+, 2.30+, 2.34+ and Lix (read from their sources;
 * test/unit/nix/messages.test.ts holds one fixture per wording and release), so a refusal is
 * recognised by what it says, not by one release's last line. Where oscd can find out for
 * itself (the narinfo signatures of a substitute: see trust-check.ts), the wording is the
 * second line of defence, not the first.
 */

// Nix colours its messages on a terminal and, from 2.30, inside its JSON log too.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, "g");

export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}

function firstMatch(text: string, patterns: readonly RegExp[]): string | undefined {
  const lines = stripAnsi(text).split("\n");
  for (const re of patterns) {
    const line = lines.find((l) => re.test(l));
    if (line !== undefined) return line.trim().slice(0, 400);
  }
  return undefined;
}

/**
 * A substitute refused because no trusted key signed it.
 * - 2.8: `warning: the substitute for 'P' from 'C' is not signed by any of the keys in 'trusted-public-keys'`
 * - 2.18 on, Lix: `warning: ignoring substitute for 'P' from 'C', as it's not signed by any of the keys in 'trusted-public-keys'`
 *   (the error that follows is only `error: build of 'P' failed`)
 * - importing: 2.8 `cannot add path 'P' because it lacks a valid signature`; 2.18 on, Lix:
 *   `… because it lacks a signature by a trusted key`
 * - Nix 2.3 and older: `substituter 'C' does not have a valid signature for path 'P'`
 */
const UNTRUSTED = [/not signed by any of the keys/i, /lacks a (?:valid )?signature/i, /does not have a valid signature for path/i, /no signature is trusted/i];

export function untrustedSubstitute(stderr: string): string | undefined {
  return firstMatch(stderr, UNTRUSTED);
}

/**
 * What a cache served is not what its narinfo claims: `hash mismatch importing path 'P';`,
 * `size mismatch importing path 'P';` (every release and Lix), `NAR for 'P' fetched from 'C' is
 * incomplete` (2.8–2.28), `hash mismatch for 'P'`.
 */
const CORRUPT = [/hash mismatch importing path/i, /size mismatch importing path/i, /NAR for '[^']*' fetched from '[^']*' is incomplete/i, /hash mismatch for '/i, /NAR hash mismatch/i];

export function corruptSubstitute(stderr: string): string | undefined {
  return firstMatch(stderr, CORRUPT);
}

/**
 * No cache offered the path (realising with `--max-jobs 0`):
 * - every release: `don't know how to build these paths:` (then the paths),
 *   `path 'P' is required, but there is no substituter that can build it`,
 *   `path 'P' does not exist and cannot be created`
 * - 2.8–2.29, Lix: `a 'S' with features {…} is required to build 'D', but I am a …`
 * - 2.30 on: `Cannot build 'D'.` with `Reason: local builds are disabled (max-jobs = 0)` (2.34+)
 */
const UNAVAILABLE = [
  /don't know how to build/i,
  /is required, but there is no substituter/i,
  /does not exist and cannot be created/i,
  /local builds are disabled/i,
  /is required to build/i,
  /^\s*(?:error: )?Cannot build '/,
];

export function pathUnavailable(stderr: string): string | undefined {
  return firstMatch(stderr, UNAVAILABLE);
}

export function diskFull(stderr: string): string | undefined {
  return firstMatch(stderr, [/No space left on device/i]);
}

/**
 * The connection to the other store ended under a running copy:
 * - 2.8–2.19, Lix: `error: unexpected end-of-file`; Lix's async streams: `async stream ended`
 * - 2.20 on: `error: Nix daemon disconnected unexpectedly (maybe it crashed?)`
 * - every release: `writing to file: Broken pipe`, `Connection reset by peer`
 * - ssh: `Connection to H closed by remote host.`, `client_loop: send disconnect: Broken pipe`,
 *   `Timeout, server H not responding.`, `lost connection`
 */
const CONNECTION_LOST = [
  /unexpected end-of-file/i,
  /disconnected unexpectedly/i,
  /async stream ended/i,
  /end-of-file/i,
  /Broken pipe/i,
  /Connection (?:closed|reset)/i,
  /closed by remote host/i,
  /Timeout, server .* not responding/i,
  /read header failed/i,
  /lost connection/i,
  /connection to .* closed/i,
];

export function connectionLost(text: string): string | undefined {
  return firstMatch(text, CONNECTION_LOST);
}

/**
 * The store could not be reached at all:
 * - ssh and ssh-ng: `cannot connect to 'H'` (legacy ssh store, every release),
 *   `cannot open connection to remote store 'U': …`, `failed to start SSH (master )?connection to 'H'`
 *   (2.8 on), and ssh's own `Connection refused`, `Could not resolve hostname`, `No route to
 *   host`, `Connection timed out`, `Permission denied (publickey…)`
 * - http: `unable to download 'U': Couldn't connect to server (7)` (curl before 7.84 says
 *   "Couldn't", later "Could not"), `HTTP error 401/403/404`
 * - file: the directory does not exist
 */
const UNREACHABLE = [
  /Connection refused/i,
  /Could(?:n't| not) resolve/i,
  /No route to host/i,
  /timed out/i,
  /cannot connect to/i,
  /cannot open connection to remote store/i,
  /failed to start SSH (?:master )?connection/i,
  /Permission denied \(publickey/i,
  /Could(?:n't| not) connect to server/i,
  /HTTP error 40[134]/i,
  /does not exist/i,
];

export function storeUnreachable(text: string): string | undefined {
  return firstMatch(text, UNREACHABLE);
}

/** `don't know how to open Nix store 'U'` (2.8, Lix), `… with scheme 'S'` (2.20 on). */
export function storeUnsupported(text: string): string | undefined {
  return firstMatch(text, [/don't know how to open Nix store/i]);
}

/** `path 'P' is not valid` (every release), `… does not exist`. */
export function storePathMissing(text: string): string | undefined {
  return firstMatch(text, [/is not valid/i, /does not exist/i]);
}

export interface PlatformMismatch {
  required: string;
  current: string;
  /** One line saying so, from Nix's words. */
  line: string;
}

/**
 * A derivation for a system this machine cannot build and no builder offers:
 * - 2.8–2.29, Lix: `a 'aarch64-linux' with features {} is required to build 'D', but I am a 'x86_64-linux' with features {…}`
 * - 2.30–2.33: `Cannot build 'D'.` / `Reason: required system or feature not available` /
 *   `Required system: 'aarch64-linux' with features {}` / `Current system: 'x86_64-linux' with features {…}`
 * - 2.34 on: `Cannot build 'D'.` / `Reason: platform mismatch` / `Required system: 'aarch64-linux'` / `Current system: 'x86_64-linux'`
 */
export function platformMismatch(text: string): PlatformMismatch | undefined {
  const plain = stripAnsi(text);
  const old = /a '([^']+)' with features \{[^}]*\} is required to build '[^']*', but I am a '([^']+)'(?: with features \{[^}]*\})?/.exec(plain);
  if (old) return { required: old[1] as string, current: old[2] as string, line: (old[0] as string).slice(0, 400) };
  const required = /Required system: '([^']+)'/.exec(plain);
  const current = /Current system: '([^']+)'/.exec(plain);
  if (required && current && required[1] !== current[1]) {
    return { required: required[1] as string, current: current[1] as string, line: `a '${required[1]}' is required to build it, but this machine is a '${current[1]}'` };
  }
  return undefined;
}

/**
 * `--override-input` naming no input, which Nix only warns about (and evaluates with the pinned
 * input): `the flag '--override-input N R' does not match any input` (every release, Lix),
 * `input 'A' has an override for a non-existent input 'B'` (2.18 on, Lix).
 */
export function overrideMatchesNoInput(stderr: string): string | undefined {
  const plain = stripAnsi(stderr);
  const m = /(?:the flag '--override-input [^'\n]*' does not match any input|input '[^'\n]*' has an override for a non-existent input '[^'\n]*')/.exec(plain);
  return m?.[0];
}

/**
 * One line for a message Nix spreads over several (2.30 on: `Cannot build 'D'.` then
 * `Reason: …`, the systems, `Last 10 log lines:`): its head and its reason, log lines left out.
 */
export function summariseNixMessage(message: string): string {
  const lines = stripAnsi(message)
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const head = (lines[0] ?? "").replace(/^error:\s*/, "");
  const reason = lines.find((l) => /^Reason:/.test(l));
  const systems = lines.filter((l) => /^(?:Required|Current) system:/.test(l));
  return [head, reason, ...systems].filter(Boolean).join(" ").slice(0, 400);
}
