import type { Command } from "commander";
import { parse } from "yaml";

/** Words of one shell command line: "…" and '…' quoting, backslash escapes; enough for workflow steps. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === "\\" && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur !== "") words.push(cur);
      cur = "";
      has = false;
    } else if (ch === "#" && !has && cur === "") {
      break;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (quote) throw new Error(`unterminated quote in: ${line}`);
  if (has || cur !== "") words.push(cur);
  return words;
}

export interface Invocation {
  where: string;
  argv: string[];
}

interface Step {
  name?: string;
  run?: string;
}

/** Every `oscd …` command in the `run:` scripts of a workflow's steps (line continuations joined, `&&`/`;` split). */
export function oscdInvocations(workflowYaml: string): Invocation[] {
  const doc = parse(workflowYaml) as { jobs?: Record<string, { steps?: Step[] }> };
  const out: Invocation[] = [];
  for (const [job, j] of Object.entries(doc.jobs ?? {})) {
    for (const [i, step] of (j.steps ?? []).entries()) {
      if (typeof step.run !== "string") continue;
      const script = step.run.replace(/\\\n/g, " ");
      for (const line of script.split("\n")) {
        for (const part of line.split(/&&|\|\||;/)) {
          const words = shellWords(part);
          const at = words.indexOf("oscd");
          if (at === 0 || (at > 0 && words.slice(0, at).every((w) => /^[A-Z_][A-Z0-9_]*=/.test(w) || w === "npx" || w === "exec"))) {
            out.push({ where: `${job}.steps[${i}] (${step.name ?? "unnamed"})`, argv: words.slice(at) });
          }
        }
      }
    }
  }
  return out;
}

export type CheckResult =
  | { ok: true; command: string[] }
  | { ok: false; missingCommand: string[] }
  | { ok: false; command: string[]; problem: string };

/**
 * Checks an `oscd …` argv against the commander program: every subcommand exists, every
 * `--option` is one the command has, and the command's required arguments are given.
 */
export function checkInvocation(program: Command, argv: readonly string[]): CheckResult {
  let cmd = program;
  const path: string[] = [];
  let i = 1;
  for (; i < argv.length; i++) {
    const w = argv[i] as string;
    if (w.startsWith("-") || cmd.commands.length === 0) break;
    const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (!sub) return { ok: false, missingCommand: [...path, w] };
    cmd = sub;
    path.push(w);
  }
  if (cmd.commands.length > 0) return { ok: false, command: path, problem: `"oscd ${path.join(" ")}" needs a subcommand` };
  const positional: string[] = [];
  for (; i < argv.length; i++) {
    const w = argv[i] as string;
    if (!w.startsWith("-") || w === "-") {
      positional.push(w);
      continue;
    }
    const flag = w.split("=")[0] as string;
    const opt = cmd.options.find((o) => o.long === flag || o.short === flag);
    if (!opt && flag !== "--help" && flag !== "-h") return { ok: false, command: path, problem: `unknown option ${flag}` };
    if (opt && (opt.required || opt.optional) && !w.includes("=")) i++;
  }
  const required = cmd.registeredArguments.filter((a) => a.required).length;
  if (positional.length < required) return { ok: false, command: path, problem: `needs ${required} argument(s), got ${positional.length}` };
  const max = cmd.registeredArguments.some((a) => a.variadic) ? Infinity : cmd.registeredArguments.length;
  if (positional.length > max) return { ok: false, command: path, problem: `takes at most ${max} argument(s), got ${positional.length}` };
  return { ok: true, command: path };
}

/** Problems with the oscd commands a workflow calls: a missing command, option or argument. */
export function workflowCommandProblems(program: Command, workflowYaml: string): { problems: string[]; checked: Invocation[] } {
  const problems: string[] = [];
  const checked = oscdInvocations(workflowYaml);
  for (const inv of checked) {
    const r = checkInvocation(program, inv.argv);
    if (r.ok) continue;
    const line = `${inv.where}: ${inv.argv.join(" ")}`;
    if ("missingCommand" in r) problems.push(`${line}: no command "oscd ${r.missingCommand.join(" ")}"`);
    else problems.push(`${line}: ${r.problem}`);
  }
  return { problems, checked };
}
