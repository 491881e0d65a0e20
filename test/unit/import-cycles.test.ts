import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * No module of a pipeline stage imports itself back through others (type-only imports count:
 * they are how a part ends up depending on the whole). The agent's loop hands its parts a small
 * context (src/agent/context.ts) instead of itself; the server's netboot takes what it reads.
 * src/cli is left out: `oscd completion` loads the whole program lazily, by design.
 */
const SRC = resolve(import.meta.dirname, "../../src");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function importCycles(files: readonly string[]): string[][] {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    const deps = [...text.matchAll(/(?:\bfrom\s+|\bimport\(\s*)["'](\.{1,2}\/[^"']+)["']/g)].map((m) => resolve(dirname(f), (m[1] as string).replace(/\.js$/, ".ts")));
    graph.set(f, [...new Set(deps)]);
  }
  const cycles: string[][] = [];
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (n: string) => {
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      const at = stack.indexOf(d);
      if (at >= 0) cycles.push([...stack.slice(at), d].map((x) => relative(SRC, x)));
      else if (!done.has(d) && graph.has(d)) visit(d);
    }
    stack.pop();
    done.add(n);
  };
  for (const n of graph.keys()) if (!done.has(n)) visit(n);
  return cycles;
}

describe("imports", () => {
  it("no stage outside the CLI has an import cycle (src/agent and src/server included)", () => {
    const files = sources(SRC).filter((f) => !f.startsWith(join(SRC, "cli") + "/"));
    expect(files.some((f) => f.endsWith("agent/agent.ts"))).toBe(true);
    expect(importCycles(files)).toEqual([]);
  });

  it("finds a cycle that closes through a type-only import (as agent.ts ↔ deploy.ts did)", () => {
    const dir = mkdtempSync(join(tmpdir(), "oscd-cycles-"));
    try {
      writeFileSync(join(dir, "agent.ts"), 'import { deployCandidate } from "./deploy.js";\nexport class Agent {}\n');
      writeFileSync(join(dir, "deploy.ts"), 'import type { Agent } from "./agent.js";\nexport function deployCandidate(a: Agent) {}\n');
      writeFileSync(join(dir, "context.ts"), "export interface Ctx {}\n");
      const cycles = importCycles(["agent.ts", "deploy.ts", "context.ts"].map((f) => join(dir, f)));
      expect(cycles).toHaveLength(1);
      expect(cycles[0]?.map((p) => p.split("/").pop())).toEqual(["agent.ts", "deploy.ts", "agent.ts"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
