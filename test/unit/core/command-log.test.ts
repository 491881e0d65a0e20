import { afterEach, describe, expect, it } from "vitest";
import { logCommand, maskArgv, maskSecrets, registerSecret, setCommandLog, shellQuote } from "../../../src/core/command-log.js";
import { run } from "../../../src/core/exec.js";

let logged = "";
afterEach(() => {
  setCommandLog({ level: 0, write: (s) => process.stderr.write(s) });
  logged = "";
});

function capture(level: number): void {
  setCommandLog({ level, write: (s) => (logged += s) });
}

describe("oscd -v: the commands oscd runs", () => {
  it("quotes each word as a POSIX shell reads it back", () => {
    expect(shellQuote(["nix", "eval", "--expr", "let x = 1; in x", "it's", "", "a/b:c=d,e@f"])).toBe(`nix eval --expr 'let x = 1; in x' 'it'\\''s' '' a/b:c=d,e@f`);
  });

  it("logs each command with its exit status and duration, and nothing when not asked", async () => {
    await run("true", ["quiet"], { timeoutMs: 5000 });
    expect(logged).toBe("");
    capture(1);
    await run("sh", ["-c", "echo to-stderr >&2; exit 3"], { timeoutMs: 5000 });
    expect(logged).toMatch(/^\+ sh -c 'echo to-stderr >&2; exit 3' {2}\(exit 3, \d+(ms|\.\ds)\)\n$/);
    expect(logged).not.toContain("to-stderr\n");
  });

  it("-vv adds each stderr line of the command", async () => {
    capture(2);
    await run("sh", ["-c", "echo one >&2; echo two >&2"], { timeoutMs: 5000 });
    expect(logged).toContain("  sh> one\n  sh> two\n");
  });

  it("a missing program is logged with its error code", async () => {
    capture(1);
    await expect(run("oscd-no-such-program", ["x"], { timeoutMs: 5000 })).rejects.toThrow();
    expect(logged).toMatch(/^\+ oscd-no-such-program x {2}\(tool-missing, /);
  });

  it("never shows a registered secret, a URL's password or an access token, in argv or in output", async () => {
    const secret = "fleet-1:c2VjcmV0LWtleS1ieXRlcy10aGF0LW11c3Qtbm90LWxlYWs=";
    registerSecret(`${secret}\n`);
    capture(2);
    await run("sh", ["-c", `echo ${secret} >&2`, "https://bot:hunter22@git.example.org/fleet.git"], { timeoutMs: 5000 });
    expect(logged).not.toContain("c2VjcmV0");
    expect(logged).not.toContain("hunter22");
    expect(logged).toContain("https://bot:***@git.example.org/fleet.git");
    expect(maskArgv(["nix", "--option", "access-tokens", "github.com=ghp_abc", "--option", "cores", "4"])).toEqual(["nix", "--option", "access-tokens", "***", "--option", "cores", "4"]);
    expect(maskSecrets("short ab")).toBe("short ab");
  });

  it("escapes control characters, so a logged line cannot rewrite the terminal", () => {
    capture(1);
    logCommand(["echo", "\x1b[2Kforged"], 5, "exit 0");
    expect(logged).not.toContain("\x1b");
    expect(logged).toContain("\\u001b[2Kforged");
  });
});
