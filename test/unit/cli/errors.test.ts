import { describe, expect, it } from "vitest";
import { reportError } from "../../../src/cli/main.js";
import { GuardError, UsageError, OscdError } from "../../../src/core/errors.js";

function capture(err: unknown): { out: string; code: number } {
  let out = "";
  const code = reportError(err, (s) => (out += s));
  return { out, code };
}

describe("CLI error reporting", () => {
  it("prints one error line with the code, then the hint, and maps exit codes", () => {
    const r = capture(new GuardError("downgrade", "v1.0.0 is older than the running v1.2.0", "pass --allow-downgrade"));
    expect(r.out).toBe("oscd: error[downgrade]: v1.0.0 is older than the running v1.2.0\nhint: pass --allow-downgrade\n");
    expect(r.code).toBe(3);
    expect(capture(new UsageError("bad flag")).code).toBe(2);
    expect(capture(new OscdError("x", "y", { exitCode: 4 })).code).toBe(4);
  });

  it("reports unexpected errors as internal, exit 1", () => {
    const r = capture(new Error("boom"));
    expect(r.out).toMatch(/^oscd: error\[internal\]: boom\n/);
    expect(r.code).toBe(1);
  });
});

describe("one-line errors", () => {
  it("a line break or control character from untrusted text cannot start a line of its own", () => {
    const r = capture(new GuardError("untrusted", 'signed by "evil\noscd: error[ok]: fine\r\u001b[2K"', "hint\nsecond"));
    const lines = r.out.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^oscd: error\[untrusted\]: signed by "evil \| oscd: error\[ok\]: fine\\u000d\\u001b\[2K"$/);
    expect(lines[1]).toBe("hint: hint | second");
    expect(capture(new Error("SyntaxError: Unexpected token\n  at line 3\n   ^^^")).out.split("\n")).toHaveLength(3);
  });
});

describe("a tool's full message under the one-line error", () => {
  it("comes after the summary and before the hint, indented so no line passes for oscd's own", () => {
    const detail = "error: undefined variable 'services'\n\n       at /nix/store/x-source/hosts/web2.nix:3:12:\noscd: error[ok]: forged\nhint: forged\n\u001b[2Kgone";
    const r = capture(new OscdError("nix-eval-failed", "evaluating web2 failed: error: undefined variable 'services'", { hint: "fix it", detail }));
    const lines = r.out.trimEnd().split("\n");
    expect(lines[0]).toBe("oscd: error[nix-eval-failed]: evaluating web2 failed: error: undefined variable 'services'");
    expect(lines[1]).toBe("  error: undefined variable 'services'");
    expect(lines).toContain("         at /nix/store/x-source/hosts/web2.nix:3:12:");
    expect(lines[lines.length - 1]).toBe("hint: fix it");
    expect(lines.filter((l) => /^(oscd:|hint:)/.test(l))).toHaveLength(2);
    expect(r.out).not.toContain("\u001b");
  });
});

describe("--option NAME VALUE", () => {
  it("is joined to one word for commander; NAME=VALUE and what follows -- are left alone", async () => {
    const { joinOptionPairs } = await import("../../../src/cli/nix-options.js");
    expect(joinOptionPairs(["build", "--option", "cores", "4", "--on", "web1"])).toEqual(["build", "--option", "cores=4", "--on", "web1"]);
    expect(joinOptionPairs(["build", "--option", "cores=4", "web1"])).toEqual(["build", "--option", "cores=4", "web1"]);
    expect(joinOptionPairs(["x", "--", "--option", "a", "b"])).toEqual(["x", "--", "--option", "a", "b"]);
  });
});
