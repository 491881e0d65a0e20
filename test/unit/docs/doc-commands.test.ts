import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { shellWords } from "../release/workflow-commands.js";
import { parseOnly } from "../cli/parse-only.js";

const ROOT = resolve(import.meta.dirname, "../../..");
/** Fenced blocks in these languages are shell; toml, nix, json and the like are not. */
const SHELL_BLOCKS = new Set(["", "sh", "bash", "shell", "console", "zsh", "fish"]);

/** README.md and every page in docs/. */
async function pages(): Promise<string[]> {
  const docs = (await readdir(join(ROOT, "docs"))).filter((f) => f.endsWith(".md")).map((f) => join("docs", f));
  return ["README.md", ...docs.sort()];
}

/**
 * A shell line cut into its simple commands at `|`, `||`, `&&` and `;` outside quotes, with a
 * trailing ` # comment` dropped.
 */
function shellParts(line: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let cur = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      cur += c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) {
      break;
    } else if (c === "|" || c === ";" || (c === "&" && line[i + 1] === "&")) {
      parts.push(cur);
      cur = "";
      if (line[i + 1] === c) i++;
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/** The `oscd …` command lines in a Markdown text's shell code blocks, with their line numbers. */
export function docCommands(text: string): { line: number; argv: string[] }[] {
  const out: { line: number; argv: string[] }[] = [];
  const lines = text.split("\n");
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const open = /^\s*```\s*([A-Za-z]*)/.exec(raw);
    if (open) {
      fence = fence === undefined ? open[1]!.toLowerCase() : undefined;
      continue;
    }
    if (fence === undefined || !SHELL_BLOCKS.has(fence)) continue;
    // A line ending in `\` goes on: join it with the next.
    let text = raw;
    while (text.endsWith("\\") && i + 1 < lines.length) text = text.slice(0, -1) + " " + lines[++i]!;
    text = text.replace(/^\s*[$#]\s+(?=\S)/, "");
    for (const part of shellParts(text)) {
      if (!/^\s*(?:[A-Z_][A-Z0-9_]*=\S*\s+|sudo\s+|npx\s+|exec\s+)*oscd(?:\s|$)/.test(part)) continue;
      const words = shellWords(part.replace(/\$\([^)]*\)/g, "VALUE").replace(/\s\d?>.*$/, "").replace(/\s<\s.*$/, ""));
      const at = words.indexOf("oscd");
      if (at >= 0) out.push({ line: i + 1, argv: words.slice(at) });
    }
  }
  return out;
}

describe("oscd command lines in README.md and docs/", () => {
  it("every one parses against the real CLI", async () => {
    const failures: string[] = [];
    let count = 0;
    for (const page of await pages()) {
      for (const { line, argv } of docCommands(await readFile(join(ROOT, page), "utf8"))) {
        count++;
        // An old spelling still parses (with a warning); the docs show the current one.
        const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
        await parseOnly(argv).catch((e: unknown) => failures.push(`${page}:${line}: ${argv.join(" ")}: ${e instanceof Error ? e.message : String(e)}`));
        for (const [said] of err.mock.calls) if (String(said).includes("is deprecated")) failures.push(`${page}:${line}: ${argv.join(" ")}: ${String(said).trim()}`);
        err.mockRestore();
      }
    }
    expect(failures).toEqual([]);
    expect(count).toBeGreaterThan(50);
  }, 120_000);

  it("finds commands in shell blocks only, and a wrong one fails", async () => {
    const md = ["```sh", "sudo oscd upgrade --tag v1.2.0   # a comment", "oscd build --builders 'ssh://b x86_64-linux - 16; ssh://c' && echo done", "oscd keys generate fleet-1 \\", "  --secret-file k.sec", "```", "```toml", 'oscd = "not a command"', "```"].join("\n");
    expect(docCommands(md).map((c) => c.argv.join(" "))).toEqual(["oscd upgrade --tag v1.2.0", "oscd build --builders ssh://b x86_64-linux - 16; ssh://c", "oscd keys generate fleet-1 --secret-file k.sec"]);
    await expect(parseOnly(["oscd", "upgrade", "--no-such-flag"])).rejects.toThrow(/unknown option/);
    await expect(parseOnly(["oscd", "no-such-command"])).rejects.toThrow(/unknown command/);
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    await parseOnly(["oscd", "publish", "--key", "fleet.secret"]);
    expect(err.mock.calls.map((c) => String(c[0]))).toEqual(["oscd: warning: --key is deprecated; use --sign-key\n"]);
    err.mockRestore();
  });
});
