import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { colourWanted } from "../../../src/cli/colour.js";
import { run } from "../../../src/core/exec.js";
import { OSCD_BIN, REPO_ROOT, ensureBuilt } from "../../harness/oscd.js";

beforeAll(async () => {
  await ensureBuilt();
});

const NO_COLOUR_ENV = { NO_COLOR: undefined, FORCE_COLOR: undefined };

async function oscd(args: string[], env: Record<string, string | undefined> = NO_COLOUR_ENV) {
  return run("node", [OSCD_BIN, ...args], { timeoutMs: 30_000, env });
}

/** Runs oscd on a pseudo-terminal (stdout and stderr both), as a person would. */
async function onTerminal(args: string[], env: Record<string, string | undefined> = {}) {
  return run("python3", [join(REPO_ROOT, "test/harness/pty-answer.py"), "node", OSCD_BIN, ...args], { timeoutMs: 30_000, env: { PTY_PROMPT: "^$^", ...NO_COLOUR_ENV, TERM: "xterm", ...env } });
}

const ESC = "\u001b[";

describe("colour", () => {
  it("NO_COLOR, FORCE_COLOR and --color decide, else whether the stream is a terminal", () => {
    expect(colourWanted("auto", true, {})).toBe(true);
    expect(colourWanted("auto", false, {})).toBe(false);
    expect(colourWanted("auto", true, { NO_COLOR: "1" })).toBe(false);
    expect(colourWanted("auto", true, { NO_COLOR: "" })).toBe(true);
    expect(colourWanted("auto", false, { FORCE_COLOR: "1" })).toBe(true);
    expect(colourWanted("auto", false, { FORCE_COLOR: "0" })).toBe(false);
    expect(colourWanted("auto", true, { TERM: "dumb" })).toBe(false);
    expect(colourWanted("always", false, { NO_COLOR: "1" })).toBe(true);
    expect(colourWanted("never", true, { FORCE_COLOR: "1" })).toBe(false);
  });

  it("an error on a terminal is coloured; with NO_COLOR or --color=never, or into a pipe, it is not", async () => {
    const tty = await onTerminal(["biuld"]);
    expect(tty.stdout).toContain(`${ESC}31m`);
    expect(tty.stdout).toMatch(/error\[usage\]/);
    expect((await onTerminal(["biuld"], { NO_COLOR: "1" })).stdout).not.toContain(ESC);
    expect((await onTerminal(["--color=never", "biuld"])).stdout).not.toContain(ESC);
    expect((await oscd(["biuld"])).stderr).not.toContain(ESC);
    expect((await oscd(["--color", "always", "biuld"])).stderr).toContain(`${ESC}31m`);
    expect((await oscd(["biuld"], { FORCE_COLOR: "1", NO_COLOR: undefined })).stderr).toContain(ESC);
  });
});

describe("errors", () => {
  it("commander's suggestion goes to the hint line, not the error line", async () => {
    const r = await oscd(["biuld"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe("oscd: error[usage]: unknown command 'biuld'\nhint: did you mean build? run 'oscd --help' for the commands\n");
    const o = await oscd(["build", "--ref-x", "main"]);
    expect(o.stderr.split("\n")[0]).not.toMatch(/Did you mean/i);
  });

  it("with --json an error is one JSON object on stdout, with the same exit code", async () => {
    const usage = await oscd(["build", "--onn", "web1", "--json"]);
    expect(usage.exitCode).toBe(2);
    // The same error as text on stderr, for a person reading the log.
    expect(usage.stderr).toMatch(/^oscd: error\[usage\]: unknown option '--onn'\nhint: did you mean --on\?/);
    expect(JSON.parse(usage.stdout)).toEqual({ error: { code: "usage", message: "unknown option '--onn'", hint: "did you mean --on? run 'oscd build --help' for its options and examples" } });
    const missing = await oscd(["manifest", "verify", "/nonexistent/main.json", "--trusted-key", "k:AAAA", "--json"]);
    expect(missing.exitCode).not.toBe(0);
    const body = JSON.parse(missing.stdout) as { error: { code: string; message: string; hint?: string } };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error.code).toMatch(/^[a-z-]+$/);
    expect(body.error.message.length).toBeGreaterThan(0);
    // Without --json: the two text lines on stderr, nothing on stdout.
    const text = await oscd(["build", "--onn", "web1"]);
    expect(text.stdout).toBe("");
    expect(text.stderr).toMatch(/^oscd: error\[usage\]: /);
  });
});
