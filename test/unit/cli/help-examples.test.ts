import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../../src/cli/commands/index.js";
import { buildFullProgram } from "../../../src/cli/main.js";
import { shellWords } from "../release/workflow-commands.js";
import { allCommands, parseOnly } from "./parse-only.js";

/** The full help a user sees, the text added after the options included. */
function helpText(cmd: Command): string {
  let out = "";
  cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

/** A shell line cut at `|`, `&&` and `;` that are not inside quotes (`--waves 'canary=web1; rest'` is one word). */
function splitOutsideQuotes(line: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let cur = "";
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "|" || ch === ";" || (ch === "&" && line[i + 1] === "&")) {
      parts.push(cur);
      cur = "";
      if (ch === "&") i++;
      continue;
    }
    cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** The `oscd …` command lines in a help text's "Examples:" section (comments and pipes cut off). */
function examples(help: string): string[][] {
  const at = help.indexOf("Examples:");
  if (at < 0) return [];
  const lines: string[][] = [];
  for (const line of help.slice(at).split("\n").slice(1)) {
    if (line.trim() === "") break;
    for (const part of splitOutsideQuotes(line)) {
      if (!/^\s*(?:[A-Z_][A-Z0-9_]*=\S*\s+|sudo\s+|npx\s+)*oscd(?:\s|$)/.test(part)) continue;
      // Redirections are the shell's, not oscd's arguments.
      const words = shellWords(part.replace(/\$\([^)]*\)/g, "VALUE").replace(/\s\d?>.*$/, ""));
      const i = words.indexOf("oscd");
      if (i >= 0 && words.slice(0, i).every((w) => /^[A-Z_][A-Z0-9_]*=/.test(w) || w === "sudo" || w === "npx")) lines.push(words.slice(i));
    }
  }
  return lines;
}

describe("--help examples", () => {
  it("every example in every command's --help parses", async () => {
    const program = await buildFullProgram();
    const seen: string[] = [];
    const failures: string[] = [];
    for (const { cmd } of [{ cmd: program }, ...allCommands(program)]) {
      for (const argv of examples(helpText(cmd))) {
        seen.push(argv.join(" "));
        await parseOnly(argv).catch((e: unknown) => failures.push(`${argv.join(" ")}: ${e instanceof Error ? e.message : String(e)}`));
      }
    }
    expect(failures).toEqual([]);
    // Every top-level command shows at least one example.
    for (const c of COMMANDS) expect(seen.some((s) => s.startsWith(`oscd ${c.name}`)), c.name).toBe(true);
  });

  it("the check fails on a wrong example", async () => {
    await expect(parseOnly(["oscd", "upgrade", "--override-input", "nixpkgs", "path:/home/me/nixpkgs"])).rejects.toThrow(/too many arguments/);
    await expect(parseOnly(["oscd", "upgrade", "--no-such-flag"])).rejects.toThrow(/unknown option/);
    await expect(parseOnly(["oscd", "upgrade", "--override-input", "nixpkgs=path:/home/me/nixpkgs"])).resolves.toBeUndefined();
  });

  it("the summaries in `oscd --help` are each command's own description", async () => {
    const program = await buildFullProgram();
    for (const c of COMMANDS) expect(program.commands.find((x) => x.name() === c.name)?.description(), c.name).toBe(c.summary);
  });
});
