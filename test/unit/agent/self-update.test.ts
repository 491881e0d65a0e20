import { describe, expect, it } from "vitest";
import { serviceCommand, splitCommandLine } from "../../../src/agent/index.js";

describe("the agent's unit, as the new system installs it", () => {
  it("takes the command and environment of a NixOS-written unit", () => {
    const unit = [
      "[Unit]",
      "Description=oscd pull agent",
      "[Service]",
      'Environment="LOCALE_ARCHIVE=/nix/store/aaa-glibc-locales/lib/locale/locale-archive"',
      'Environment="NODE_OPTIONS=--max-semi-space-size=1"',
      'Environment="PATH=/nix/store/bbb-nix/bin:/nix/store/ccc-git/bin"',
      "ExecStart=/nix/store/ddd-oscd-0.2.0/bin/oscd agent --config /nix/store/eee-oscd-agent.json",
      "Restart=on-failure",
    ].join("\n");
    expect(serviceCommand(unit)).toEqual({
      argv: ["/nix/store/ddd-oscd-0.2.0/bin/oscd", "agent", "--config", "/nix/store/eee-oscd-agent.json"],
      env: { LOCALE_ARCHIVE: "/nix/store/aaa-glibc-locales/lib/locale/locale-archive", NODE_OPTIONS: "--max-semi-space-size=1", PATH: "/nix/store/bbb-nix/bin:/nix/store/ccc-git/bin" },
    });
  });

  it("drops ExecStart prefixes, honours quotes, and takes the last ExecStart", () => {
    expect(serviceCommand("ExecStart=/bin/false\nExecStart=-@/bin/oscd oscd-agent 'a b' \"c\\\"d\" e\\ f")?.argv).toEqual(["/bin/oscd", "oscd-agent", "a b", 'c"d', "e f"]);
    expect(serviceCommand('Environment=A=1 "B=2 3"')).toBeUndefined();
    expect(serviceCommand('Environment=A=1 "B=2 3"\nExecStart=/x')?.env).toEqual({ A: "1", B: "2 3" });
  });

  it("splits like systemd: empty quoted words stay", () => {
    expect(splitCommandLine(`a "" 'b c'  d`)).toEqual(["a", "", "b c", "d"]);
  });
});
