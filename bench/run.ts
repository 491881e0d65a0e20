/**
 * Runs the benchmarks: every `bench/*.ts` except this file and helpers (names starting with
 * `_` or ending in `-helpers.ts`), one after another, each as its own `node --import tsx`
 * process whose tables stream through as they are printed. Exits 1 when one fails.
 *
 *   npm run bench                     all of them
 *   npm run bench -- NAME [ARGS...]   one (e.g. `npm run bench -- publish 1 10`), ARGS passed on
 *
 * OSCD_BENCH_DIR names another directory of benchmarks (the tests use it).
 *
 * The lines a benchmark prints starting with `target ` (bench/_measure.ts's Targets) are
 * gathered and printed again at the end, each under its benchmark's name, with the load
 * average: one table of every target's PASS, FAIL or "not judged". A failed target is a
 * result, not a failed run: the exit status says only whether every benchmark ran.
 */
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { loadavg } from "node:os";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIR = resolve(process.env.OSCD_BENCH_DIR ?? HERE);
const ROOT = resolve(HERE, "..");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

function isBenchmark(file: string): boolean {
  return file.endsWith(".ts") && !file.endsWith(".d.ts") && file !== "run.ts" && !file.startsWith("_") && !file.endsWith("-helpers.ts");
}

async function benchmarks(): Promise<string[]> {
  return (await readdir(DIR)).filter(isBenchmark).map((f) => basename(f, ".ts")).sort();
}

/** Runs one benchmark with stdout and stderr passed through; resolves with its exit status and target lines. */
function runOne(name: string, args: readonly string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; targets: string[] }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", TSX, join(DIR, `${name}.ts`), ...args], { cwd: ROOT, stdio: ["inherit", "pipe", "inherit"] });
    const targets: string[] = [];
    let partial = "";
    child.stdout.on("data", (d: Buffer) => {
      process.stdout.write(d);
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) if (l.startsWith("target ")) targets.push(l);
    });
    child.on("error", fail);
    child.on("close", (code, signal) => {
      if (partial.startsWith("target ")) targets.push(partial);
      done({ code, signal, targets });
    });
  });
}

async function main(): Promise<number> {
  const all = await benchmarks();
  const [wanted, ...args] = process.argv.slice(2);
  let names = all;
  if (wanted !== undefined) {
    const name = basename(wanted, ".ts");
    if (!all.includes(name)) {
      process.stderr.write(`bench: no benchmark ${JSON.stringify(wanted)} in ${DIR}; there are: ${all.join(", ") || "none"}\n`);
      return 2;
    }
    names = [name];
  }
  const results: { name: string; ok: boolean; seconds: number; how: string; targets: string[] }[] = [];
  for (const name of names) {
    process.stdout.write(`\n=== ${name} ===\n`);
    const start = performance.now();
    const { code, signal, targets } = await runOne(name, wanted === undefined ? [] : args);
    const ok = code === 0;
    results.push({ name, ok, seconds: (performance.now() - start) / 1000, how: ok ? "ok" : signal ? `killed by ${signal}` : `failed (exit ${code})`, targets });
  }
  if (names.length > 1) {
    process.stdout.write("\n");
    for (const r of results) process.stdout.write(`${r.name.padEnd(20)} ${r.how.padEnd(20)} ${r.seconds.toFixed(1)} s\n`);
  }
  const withTargets = results.filter((r) => r.targets.length > 0);
  if (withTargets.length > 1) {
    const [l1, l5, l15] = loadavg().map((l) => l.toFixed(1));
    process.stdout.write(`\nevery target (load average now ${l1} ${l5} ${l15})\n`);
    for (const r of withTargets) for (const t of r.targets) process.stdout.write(`${r.name.padEnd(14)} ${t.slice("target ".length).trimStart()}\n`);
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) process.stderr.write(`bench: ${failed.length} of ${results.length} failed: ${failed.map((r) => r.name).join(", ")}\n`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
