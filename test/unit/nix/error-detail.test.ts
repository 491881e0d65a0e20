import { afterEach, describe, expect, it } from "vitest";
import { globalArgs, impureArgs, nixErrorDetail, nixRun, setNixGlobals } from "../../../src/nix/index.js";
import { setCommandLog } from "../../../src/core/command-log.js";

afterEach(() => {
  setNixGlobals({});
  setCommandLog({ level: 0 });
});

// What Nix 2.8 prints for a typo in a host's file (ANSI colours as on a terminal).
const NIX_28 = [
  "warning: Git tree '/srv/fleet' is dirty",
  "\x1b[31;1merror:\x1b[0m undefined variable 'services'",
  "",
  "       at \x1b[35;1m/nix/store/y93d44djjwvfzbc6rlxjahf67vhm2cxa-source/hosts/web2.nix\x1b[0m:3:12:",
  "",
  "            2|   hostname = \"web2\";",
  "            3|   marker = services.ngnix;",
  "             |            \x1b[31;1m^\x1b[0m",
  "(use '--show-trace' to show detailed location information)",
  "",
].join("\n");

// Nix 2.28 with the NixOS module system: the message spans lines, the cause comes last.
const NIX_228 = [
  "error:",
  "       … while evaluating the attribute 'config.system.build.toplevel'",
  "         at /nix/store/aaaa-source/nixos/modules/system/activation/top-level.nix:71:5:",
  "       error: The option `services.ngnix' does not exist. Definition values:",
  "       - In `/nix/store/bbbb-source/hosts/web2.nix':",
  "           {",
  "             enable = true;",
  "           }",
].join("\n");

describe("Nix's error, whole", () => {
  it("keeps everything from the first error line: the file and line, the excerpt, Nix's own advice", () => {
    const d = nixErrorDetail(NIX_28) ?? "";
    expect(d.split("\n")[0]).toBe("error: undefined variable 'services'");
    expect(d).toContain("/hosts/web2.nix:3:12:");
    expect(d).toContain("3|   marker = services.ngnix;");
    expect(d).not.toContain("\x1b");
    expect(d).not.toContain("warning: Git tree");
    const m = nixErrorDetail(NIX_228) ?? "";
    expect(m).toContain("- In `/nix/store/bbbb-source/hosts/web2.nix':");
    expect(m).toContain("The option `services.ngnix' does not exist");
  });

  it("adds nothing when Nix said one line, and keeps head and tail of a very long trace", () => {
    expect(nixErrorDetail("error: path '/nix/store/x' is not valid\n")).toBeUndefined();
    const long = ["error: deep", ...Array.from({ length: 1000 }, (_, i) => `  … frame ${i}`), "  error: the cause"].join("\n");
    const d = nixErrorDetail(long) ?? "";
    expect(d).toContain("frame 0");
    expect(d).toContain("the cause");
    expect(d).toMatch(/… \d+ lines left out …/);
    expect(d.split("\n").length).toBeLessThan(320);
  });
});

describe("the Nix flags of a command reach every Nix call", () => {
  it("--show-trace and --option go to every Nix program, -L to nix, --impure only to evaluations", () => {
    const g = { showTrace: true, printBuildLogs: true, impure: true, options: [["cores", "2"]] as [string, string][] };
    expect(globalArgs("nix-store", ["--realise", "/nix/store/x.drv"], g)).toEqual(["--show-trace", "--option", "cores", "2"]);
    expect(globalArgs("nix", ["eval", "--json"], g)).toEqual(["--show-trace", "--option", "cores", "2", "--print-build-logs"]);
    expect(globalArgs("nix", ["--version"], g)).toEqual([]);
    expect(impureArgs("nix", ["eval", "--json"], g)).toEqual(["--impure"]);
    expect(impureArgs("nix", ["eval", "--impure"], g)).toEqual([]);
    expect(impureArgs("nix", ["copy", "--to", "file:///x"], g)).toEqual([]);
    expect(impureArgs("nix-store", ["--realise"], g)).toEqual([]);
    expect(globalArgs("nix", ["eval"], {})).toEqual([]);
  });

  it("a real nix eval gets them, after oscd's own flags and with --impure after the subcommand", async () => {
    let logged = "";
    setCommandLog({ level: 1, write: (s) => (logged += s) });
    setNixGlobals({ showTrace: true, impure: true, options: [["max-jobs", "1"]] });
    const r = await nixRun("nix", ["eval", "--json", "--expr", "builtins.getEnv \"OSCD_IMPURE_PROBE\""], { env: { OSCD_IMPURE_PROBE: "seen" } });
    expect(r.exitCode, r.stderr).toBe(0);
    // Pure evaluation would read "" for any variable: --impure reached the evaluation.
    expect(r.stdout.trim()).toBe('"seen"');
    expect(logged).toMatch(/^\+ nix --extra-experimental-features 'nix-command flakes' --show-trace --option max-jobs 1 eval --impure --json --expr /);
  });
});
