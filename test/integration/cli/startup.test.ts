import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { ensureBuilt } from "../../harness/index.js";

/*
 * How the built CLI starts (bin/oscd.js → dist/bundle/, scripts/build/bundle.ts): the files a
 * command loads, the Node built-ins it does not load, and Node's compile cache, kept only in a
 * folder nobody else can write. Start-up cost follows what is loaded (bench/startup.ts); a count
 * does not depend on the machine's load as a time does.
 */
const root = join(import.meta.dirname, "..", "..", "..");
const bin = join(root, "bin", "oscd.js");
// status without an agent or `nix --version`: the command still runs in full.
const STATUS = ["status", "--oneline", "--socket", "/nonexistent/oscd-agent.sock"];
let safe: string;
let unsafe: string;

beforeAll(async () => {
  // Built once for the run (scripts/test.sh builds before the tests): a rebuild here would
  // replace dist/ under the unit tests that run the CLI beside this lane.
  await ensureBuilt();
  // A home nobody else can write to (the checkout's folders are root's and 0755 here), and one in /tmp.
  await mkdir(join(root, ".test-work"), { recursive: true });
  safe = await mkdtemp(join(root, ".test-work", "startup-"));
  unsafe = await mkdtemp(join(tmpdir(), "oscd-startup-"));
});
afterAll(async () => {
  await rm(safe, { recursive: true, force: true });
  await rm(unsafe, { recursive: true, force: true });
});

const oscd = (args: string[], env: Record<string, string | undefined>, node: string[] = []) =>
  run("node", [...node, bin, ...args], { timeoutMs: 60_000, env: { XDG_CACHE_HOME: undefined, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined, ...env } });

/** Every file a command line loads (its lazy imports included) and the built-ins Node loaded. */
async function loadedBy(args: string[], env: Record<string, string | undefined>): Promise<{ files: string[]; builtins: string[]; stdout: string }> {
  const hook = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ load(url, ctx, next) { if (url.startsWith("file:")) seen.push(url); return next(url, ctx); } });
    process.on("exit", () => {
      // Copied before process.stderr is made (the list is live, and making it loads net and stream).
      const builtins = [...process.moduleLoadList];
      process.stderr.write("\\nLOADED " + JSON.stringify({ files: seen, builtins }) + "\\n");
    });`;
  const r = await oscd(args, env, ["--import", `data:text/javascript,${encodeURIComponent(hook)}`]);
  expect(r.exitCode, r.stderr).toBe(0);
  const line = r.stderr.split("\n").find((l) => l.startsWith("LOADED "));
  expect(line, r.stderr).toBeDefined();
  const { files, builtins } = JSON.parse(line!.slice("LOADED ".length)) as { files: string[]; builtins: string[] };
  return { files: files.map((u) => u.slice(u.indexOf(root) + root.length + 1)), builtins, stdout: r.stdout };
}

describe("the built CLI's start", () => {
  it("oscd status loads bin/oscd.js and a few bundled files: no module of dist/ or node_modules, nor node:crypto, node:child_process or undici", async () => {
    const { files, builtins } = await loadedBy(STATUS, { HOME: safe });
    expect(files[0]).toBe("bin/oscd.js");
    expect(files.filter((f) => !/^dist\/bundle\/[\w-]+\.mjs$/.test(f) && f !== "bin/oscd.js")).toEqual([]);
    expect(files.length).toBeLessThanOrEqual(8);
    expect(builtins.filter((m) => /^NativeModule (crypto|child_process|https?)$|undici/.test(m))).toEqual([]);
  });

  it("oscd status prints through a pipe without making process.stdout or asking node:tty: no net, stream, tty or fs/promises", async () => {
    // run() gives the CLI a pipe, as the bench and most scripts do: process.stdout would be a
    // socket (net, stream), node:tty loads net too, fs/promises readline behind it.
    const { builtins, stdout } = await loadedBy(STATUS, { HOME: safe });
    expect(stdout).toMatch(/ no-agent /);
    expect(builtins.filter((m) => /^NativeModule (net|tty|stream|fs\/promises|readline)$/.test(m))).toEqual([]);
  });

  it("a closed pipe on stdout ends oscd quietly, exit 0, as it did through process.stdout", async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn("node", [bin, ...STATUS], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HOME: safe } });
      // Closed before the CLI writes its line: the write finds no reader (EPIPE).
      child.stdout.destroy();
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => done({ code, stderr }));
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("the control: a command that runs a program loads node:child_process, so the check above can fail", async () => {
    // A new home: `nix --version` is not remembered there yet, so it runs.
    const { builtins } = await loadedBy(["--version", "--verbose"], { HOME: await mkdtemp(join(safe, "control-")) });
    expect(builtins).toContain("NativeModule child_process");
  });
});

describe("Node's compile cache", () => {
  it("is kept in ~/.cache/oscd/compile when that is the user's own, and the output is the same with or without it", async () => {
    const home = await mkdtemp(join(safe, "home-"));
    const first = await oscd(STATUS, { HOME: home });
    expect(first.exitCode, first.stderr).toBe(0);
    expect((await readdir(join(home, ".cache", "oscd", "compile"))).length).toBeGreaterThan(0);
    const cached = await oscd(STATUS, { HOME: home });
    const without = await oscd(STATUS, { HOME: home, NODE_DISABLE_COMPILE_CACHE: "1" });
    expect(cached.stdout).toBe(first.stdout);
    expect(without.stdout).toBe(first.stdout);
  });

  it("is not made, read or written under a folder others can write to: oscd runs the same without it", async () => {
    // An attacker's folder in /tmp, with a planted cache where oscd's would go.
    const planted = join(unsafe, "cache", "oscd", "compile");
    await mkdir(planted, { recursive: true });
    await writeFile(join(planted, "planted"), "not V8 code");
    const r = await oscd(STATUS, { HOME: join(safe, "nonesuch"), XDG_CACHE_HOME: join(unsafe, "cache") });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readdir(planted)).toEqual(["planted"]);
    const home = await mkdtemp(join(unsafe, "home-"));
    expect((await oscd(STATUS, { HOME: home })).exitCode).toBe(0);
    expect(await readdir(home)).toEqual([]);
  });

  it("a cache folder that cannot be made (a file in its way) or no HOME at all: oscd runs the same", async () => {
    const home = await mkdtemp(join(safe, "blocked-"));
    await writeFile(join(home, ".cache"), "a file, not a folder");
    const blocked = await oscd(STATUS, { HOME: home });
    expect(blocked.exitCode, blocked.stderr).toBe(0);
    const none = await oscd(STATUS, { HOME: undefined });
    expect(none.exitCode, none.stderr).toBe(0);
    expect(none.stdout).toBe(blocked.stdout);
  });
});
