import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

/**
 * What importing some of oscd's modules loads, in a fresh Node: Node's built-in modules and
 * the CommonJS files required. Start-up cost follows what is loaded (bench/startup.ts), and a
 * count does not depend on the machine's load as a time does. These run the sources: which
 * modules a command reaches, statically or when it gets there, is what the build's bundle keeps
 * (a dynamic import stays a chunk loaded when reached); test/integration/cli/startup.test.ts
 * checks the built CLI itself (the files it loads, the built-ins it does not).
 */
async function loadedBy(modules: string[]): Promise<{ builtins: string[]; required: string[] }> {
  const code = `
    import { createRequire } from "node:module";
    for (const m of ${JSON.stringify(modules)}) await import(m);
    const required = Object.keys(createRequire(import.meta.url).cache);
    process.stdout.write(JSON.stringify({ builtins: process.moduleLoadList, required }));`;
  const r = await run("node", ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, timeoutMs: 60_000 });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { builtins: string[]; required: string[] };
}

describe("what a command's start loads", () => {
  it("status, activate and the agent load neither node:http's ES namespace nor undici; status and activate not semver's whole index", async () => {
    // An ES import of node:http builds its namespace, whose getters load undici (~100 ms of CPU
    // at every start, ~15 MiB of the idle agent's RSS); http.ts and the exporter take it when used.
    const cli = await loadedBy(["./src/cli/commands/status.ts", "./src/cli/commands/activate.ts"]);
    expect(cli.builtins.filter((m) => /undici|NativeModule https?$/.test(m))).toEqual([]);
    expect(cli.required.filter((f) => /node_modules\/semver\/index\.js$/.test(f))).toEqual([]);
    const agent = await loadedBy(["./src/agent/index.ts"]);
    expect(agent.builtins.filter((m) => /undici|NativeModule https?$/.test(m))).toEqual([]);
    // The control: importing node:http the usual way does load undici, so the check can fail.
    const control = await loadedBy(["node:http"]);
    expect(control.builtins).toContain("NativeModule internal/deps/undici/undici");
  });

  it("the CLI's entry loads no Nix stage: only commands with Nix flags import it", async () => {
    const code = `
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ load(url, ctx, next) { seen.push(url); return next(url, ctx); } });
      await import("./src/cli/main.ts");
      process.stdout.write(JSON.stringify(seen.filter((u) => u.includes("/src/nix/"))));`;
    const r = await run("node", ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});

/**
 * The oscd modules (src/, relative) and packages (node_modules/NAME) a command line loads when
 * run in full by main(), in a fresh Node: its lazy imports included.
 */
async function modulesOfRun(argv: string[]): Promise<{ own: string[]; packages: string[] }> {
  const code = `
    import { registerHooks } from "node:module";
    const seen = new Set();
    registerHooks({ load(url, ctx, next) { seen.add(url); return next(url, ctx); } });
    const { main } = await import("./src/cli/main.ts");
    await main(["node", "oscd", ...${JSON.stringify(argv)}]);
    process.stderr.write("\\nMODULES " + JSON.stringify([...seen]) + "\\n");`;
  const r = await run("node", ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, timeoutMs: 60_000 });
  const line = r.stderr.split("\n").find((l) => l.startsWith("MODULES "));
  expect(line, r.stderr).toBeDefined();
  const urls = JSON.parse(line!.slice("MODULES ".length)) as string[];
  const own = urls.filter((u) => u.includes("/src/")).map((u) => u.slice(u.lastIndexOf("/src/") + 1));
  const packages = [...new Set(urls.filter((u) => u.includes("/node_modules/")).map((u) => u.slice(u.lastIndexOf("/node_modules/") + 14).split("/")[0]!))];
  return { own, packages };
}

describe("what oscd status loads", () => {
  it("the state files' readers only: not the activation engine, not the whole Nix stage, no fleet, trust or zod", async () => {
    // --oneline, --socket to nowhere: no `nix --version`, no agent; the command still runs in full.
    const { own, packages } = await modulesOfRun(["status", "--oneline", "--socket", "/nonexistent/oscd-agent.sock"]);
    expect(own).toContain("src/activate/status.ts");
    expect(own).toContain("src/activate/light.ts");
    const engine = ["src/activate/index.ts", "src/activate/engine.ts", "src/activate/deployment.ts", "src/activate/lock.ts", "src/activate/recover.ts", "src/activate/guard.ts", "src/activate/switch.ts", "src/nix/index.ts"];
    expect(own.filter((f) => engine.includes(f))).toEqual([]);
    expect(own.filter((f) => /^src\/(fleet|trust|manifest|agent|deploy|server)\//.test(f))).toEqual([]);
    expect(packages.filter((p) => p !== "commander" && p !== "tsx")).toEqual([]);
  });
});

describe("what oscd activate loads before it knows there is a deployment", () => {
  it("the command and the engine's lock, recovery check and state reads: none of a deployment's steps", async () => {
    // An activation of the running system stops after these (the agent's every tick too): the
    // steps past that point are imported when there is a deployment, or a crash to finish.
    const code = `
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ load(url, ctx, next) { seen.push(url); return next(url, ctx); } });
      await import("./src/cli/commands/activate.ts");
      await import("./src/activate/engine.ts");
      process.stdout.write(JSON.stringify(seen.filter((u) => u.includes("/src/activate/")).map((u) => u.slice(u.lastIndexOf("/") + 1))));`;
    const r = await run("node", ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const loaded = JSON.parse(r.stdout) as string[];
    expect(loaded).toContain("engine.ts");
    const steps = ["index.ts", "deployment.ts", "commit.ts", "restore.ts", "guard.ts", "health.ts", "disk-space.ts", "retention.ts", "manifest-release.ts"];
    expect(loaded.filter((f) => steps.includes(f))).toEqual([]);
  });

  it("no zod: not the package, nor the manifest's, trust documents' or machine.toml's schemas (built at import, read only when a document arrives)", async () => {
    // An activation with nothing to do reads machine.toml (its plain check: fleet/machine-check.ts)
    // and the trust state the machine holds; zod and the schemas load only for a file the plain
    // check is unsure of, a stored trust document, a manifest or a trust update.
    const code = `
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ load(url, ctx, next) { seen.push(url); return next(url, ctx); } });
      await import("./src/cli/commands/activate.ts");
      await import("./src/activate/engine.ts");
      const schemas = ["manifest/manifest", "trust/schema", "trust/incoming", "fleet/machine", "fleet/machine-schemas", "fleet/names", "fleet/retention"].map((m) => "/src/" + m + ".ts");
      process.stdout.write(JSON.stringify(seen.filter((u) => u.includes("/node_modules/zod/") || schemas.some((m) => u.endsWith(m)))));`;
    const r = await run("node", ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});
