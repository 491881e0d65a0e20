/**
 * `oscd -v`: every program oscd runs (through core/exec.ts) is written to stderr as a shell
 * line a user can paste, with its exit status and duration; `-vv` adds each line the program
 * writes to stderr as it arrives. Secrets never reach these lines: what oscd read from a key,
 * token or password file (or a terminal prompt) is registered here and replaced by `***`
 * wherever it would appear, as are the values of Nix settings and URL parts that carry
 * credentials. The log is process-wide: the CLI sets it once from its global flags.
 */

let level = 0;
let sink: (text: string) => void = (s) => process.stderr.write(s);
const secrets = new Set<string>();

/** How much to log: 0 nothing, 1 each command, 2 also each command's stderr lines. */
export function setCommandLog(opts: { level: number; write?: (text: string) => void }): void {
  level = opts.level;
  if (opts.write) sink = opts.write;
}

export function commandLogLevel(): number {
  return level;
}

/** Shorter values would mask ordinary words in the log; no secret oscd reads is that short. */
const MIN_SECRET = 4;

/**
 * Remembers a secret so no log line shows it. A file's content is registered whole and line by
 * line (a Nix key file is one line, a token file may end in a newline).
 */
export function registerSecret(value: string | undefined): void {
  if (!value) return;
  for (const v of [value, value.trim(), ...value.split(/\r?\n/).map((l) => l.trim())]) {
    if (v.length >= MIN_SECRET) secrets.add(v);
  }
}

/** Nix settings whose value is a credential (`--option access-tokens github.com=…`). */
const SECRET_SETTINGS = new Set(["access-tokens", "netrc-file-content"]);

/** Replaces every registered secret, and the password of a `scheme://user:password@` URL. */
export function maskSecrets(text: string): string {
  let out = text;
  // Longest first, so a secret containing another is masked whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join("***");
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^/\s@]+@/gi, "$1***@");
}

/** The argument array with credential-bearing values masked (see maskSecrets). */
export function maskArgv(argv: readonly string[]): string[] {
  return argv.map((a, i) => {
    const prev = argv[i - 1];
    if (i >= 2 && argv[i - 2] === "--option" && prev !== undefined && SECRET_SETTINGS.has(prev)) return "***";
    return maskSecrets(a);
  });
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word as a POSIX shell reads it back: bare when safe, else single-quoted. */
export function shellQuoteWord(word: string): string {
  if (word !== "" && SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellQuote(argv: readonly string[]): string {
  return argv.map(shellQuoteWord).join(" ");
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

// A program's own output may hold escapes and control characters: shown escaped, never obeyed.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const visible = (s: string) => s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** Logs a finished (or failed to start, or stopped) command: `+ argv  (exit 0, 1.2s)`. */
export function logCommand(argv: readonly string[], ms: number, outcome: string, cwd?: string): void {
  if (level < 1) return;
  const where = cwd ? ` in ${maskSecrets(cwd)}` : "";
  sink(`+ ${visible(shellQuote(maskArgv(argv)))}  (${outcome}, ${duration(ms)}${where})\n`);
}

/** With -vv, one stderr line of a running command. */
export function logCommandLine(program: string, line: string): void {
  // Nix's machine-readable log (--log-format internal-json) is read by oscd, not by people.
  if (level < 2 || line.startsWith("@nix ")) return;
  sink(`  ${program}> ${visible(maskSecrets(line))}\n`);
}
