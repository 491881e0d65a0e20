/**
 * Nix's own error message, whole: the `error:` line and everything after it (the `at
 * /nix/store/…-source/hosts/web2.nix:3:12:` location with its source excerpt, the NixOS module
 * system's `- In …` definition lines, the trace with --show-trace, a failed build's last log
 * lines). The CLI prints it after oscd's one-line summary, so the user sees where to look.
 */

const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]|${ESC}\\][^\\x07]*\\x07`, "g");

/** Long traces keep their head (the first error) and their tail (in newer Nix, the real cause). */
const HEAD_LINES = 150;
const TAIL_LINES = 150;

export function stripNixColour(text: string): string {
  return text.replace(ANSI, "");
}

/**
 * The detail of a failed Nix call from its stderr: from the first `error:` line on (warnings
 * before it and `@nix` JSON log lines left out), or the last lines when no `error:` line
 * exists; undefined when that is at most one line (the summary already says it).
 */
export function nixErrorDetail(stderr: string): string | undefined {
  const lines = stripNixColour(stderr)
    .split("\n")
    .map((l) => l.replace(/\s+$/, ""))
    .filter((l) => !l.startsWith("@nix "));
  const first = lines.findIndex((l) => /^error\b/.test(l.trimStart()));
  let kept = first >= 0 ? lines.slice(first) : lines.slice(-40);
  while (kept.length > 0 && kept[kept.length - 1] === "") kept.pop();
  while (kept.length > 0 && kept[0] === "") kept.shift();
  if (kept.filter((l) => l.trim() !== "").length <= 1) return undefined;
  if (kept.length > HEAD_LINES + TAIL_LINES) {
    kept = [...kept.slice(0, HEAD_LINES), `… ${kept.length - HEAD_LINES - TAIL_LINES} lines left out …`, ...kept.slice(-TAIL_LINES)];
  }
  return kept.join("\n");
}
