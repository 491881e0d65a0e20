import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "../../../src/core/exec.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
let dir: string;

/** `npm run bench -- ARGS` as package.json runs it, on a directory of stand-in benchmarks. */
function bench(args: string[]): Promise<RunResult> {
  return run("node", ["--import", "tsx", join(ROOT, "bench", "run.ts"), ...args], { cwd: ROOT, timeoutMs: 60_000, env: { OSCD_BENCH_DIR: dir } });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-bench-run-"));
  await writeFile(join(dir, "_shared.ts"), 'export const TITLE = "from a helper";\n');
  await writeFile(join(dir, "alpha.ts"), 'import { TITLE } from "./_shared.js";\nconsole.log(`alpha table ${TITLE} args=${process.argv.slice(2).join(",")}`);\n');
  await writeFile(join(dir, "beta.ts"), 'console.log("beta table");\nprocess.exit(3);\n');
  await writeFile(join(dir, "gamma.ts"), 'console.log("gamma table");\n');
  await writeFile(join(dir, "delta.ts"), 'console.log("delta table\\ntarget  speed  1.30×  ≤ 1.2×  FAIL\\ntarget  cost  0.90×  ≤ 1.1×  PASS");\n');
  await writeFile(join(dir, "epsilon.ts"), 'process.stdout.write("target  wall  2.00×  ≤ 2×  not judged");\n');
  await writeFile(join(dir, "run-helpers.ts"), 'throw new Error("a helper is not a benchmark");\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("npm run bench (bench/run.ts)", () => {
  it("runs every benchmark one after another, streams their tables, goes on after a failure and exits 1 naming it", async () => {
    const r = await bench([]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/=== alpha ===\nalpha table from a helper args=\n\n=== beta ===\nbeta table\n\n=== delta ===\ndelta table\ntarget {2}speed/);
    expect(r.stdout).toMatch(/\n=== gamma ===\ngamma table\n/);
    expect(r.stdout).not.toMatch(/_shared|run-helpers/);
    expect(r.stdout).toMatch(/\nbeta\s+failed \(exit 3\)/);
    expect(r.stderr).toBe("bench: 1 of 5 failed: beta\n");
    // Every benchmark's target lines again at the end, under its name (a last line without a newline too).
    expect(r.stdout).toMatch(/\nevery target \(load average now [\d.]+ [\d.]+ [\d.]+\)\ndelta +speed {2}1\.30× {2}≤ 1\.2× {2}FAIL\ndelta +cost {2}0\.90× {2}≤ 1\.1× {2}PASS\nepsilon +wall {2}2\.00× {2}≤ 2× {2}not judged\n$/);
  });

  it("runs just the one named, with its arguments, and refuses a name that is not a benchmark", async () => {
    const one = await bench(["alpha", "1", "10"]);
    expect(one.exitCode, one.stderr).toBe(0);
    expect(one.stdout).toBe("\n=== alpha ===\nalpha table from a helper args=1,10\n");
    expect((await bench(["gamma.ts"])).stdout).toContain("gamma table");
    const unknown = await bench(["nope"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/no benchmark "nope" in .*; there are: alpha, beta, delta, epsilon, gamma\n$/);
    expect((await bench(["run-helpers"])).exitCode).toBe(2);
  });

  it("finds the real benchmarks in bench/", async () => {
    const r = await run("node", ["--import", "tsx", join(ROOT, "bench", "run.ts"), "no-such-benchmark"], { cwd: ROOT, timeoutMs: 60_000, env: { OSCD_BENCH_DIR: undefined } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/there are: (.*, )?activate, (.*, )?publish(, .*)?\n$/);
  });
});
