import { describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { commandLine, nixSshOpts, parseSshTarget, shellQuote, sshBaseArgs } from "../../../src/deploy/ssh.js";
import { elevated } from "../../../src/deploy/sudo.js";

describe("ssh targets", () => {
  it("parses user@address[:port], root by default", () => {
    expect(parseSshTarget("web1", undefined)).toEqual({ host: "web1", destination: "root@web1", user: "root", port: undefined });
    expect(parseSshTarget("web1", "deploy@10.0.0.5:2222")).toEqual({ host: "web1", destination: "deploy@10.0.0.5", user: "deploy", port: 2222 });
  });

  it("takes a port as user@host:port and [ipv6]:port, and hands it to ssh and to Nix's ssh as -p PORT, never inside the destination", () => {
    const s = { options: [], hostKeyChecking: "yes" as const, controlDir: "/tmp/c", connectTimeoutS: 10 };
    const v6 = parseSshTarget("web1", "deploy@[fd00::7]:2222");
    // ssh takes an IPv6 address bare; brackets would be looked up as a host name.
    expect(v6).toEqual({ host: "web1", destination: "deploy@fd00::7", user: "deploy", port: 2222 });
    expect(parseSshTarget("web1", "[fd00::7]")).toEqual({ host: "web1", destination: "root@fd00::7", user: "root", port: undefined });
    expect(parseSshTarget("web1", "web1.example.org:22")).toMatchObject({ destination: "root@web1.example.org", port: 22 });
    for (const args of [sshBaseArgs(v6, s), sshBaseArgs(v6, s, true), nixSshOpts(v6, s), nixSshOpts(v6, s, true)]) {
      expect(args.slice(args.indexOf("-p"), args.indexOf("-p") + 2)).toEqual(["-p", "2222"]);
      expect(args.join(" ")).not.toMatch(/fd00|:2222/);
    }
  });

  it("refuses ports out of range and IPv6 addresses without brackets, naming why", () => {
    expect(() => parseSshTarget("web1", "web1:0")).toThrow(/port is a number from 1 to 65535/);
    expect(() => parseSshTarget("web1", "web1:65536")).toThrow(/port is a number from 1 to 65535/);
    expect(() => parseSshTarget("web1", "root@fd00::7")).toThrow(/IPv6 address goes in brackets/);
    expect(() => parseSshTarget("web1", "root@[fd00::7]:")).toThrow(/bad-ssh-target|is not user@address/);
  });

  it("refuses targets that ssh would read as options or that carry a command", () => {
    for (const bad of ["-oProxyCommand=touch /tmp/x", "root@host; rm -rf /", "root@host extra", "a@b@c", ""]) {
      expect(() => parseSshTarget("web1", bad), bad).toThrow(/is not user@address/);
    }
  });
});

describe("remote command lines", () => {
  it("quote every word so the remote shell sees exactly the argv", async () => {
    const argv = ["printf", "%s|", "a b", "it's", "$(touch /tmp/pwned)", "`id`", "*", ";", "\n"];
    const r = await run("sh", ["-c", commandLine(argv)], { timeoutMs: 5000 });
    expect(r.stdout).toBe("a b|it's|$(touch /tmp/pwned)|`id`|*|;|\n|");
    expect(shellQuote("plain-word_1.2")).toBe("plain-word_1.2");
  });

  it("a fresh connection never reuses the ControlMaster socket (magic rollback needs a new login)", () => {
    const t = parseSshTarget("web1", "root@10.0.0.5");
    const s = { options: ["IdentityFile=/k"], hostKeyChecking: "yes" as const, controlDir: "/tmp/c", connectTimeoutS: 10 };
    expect(sshBaseArgs(t, s, true).join(" ")).toMatch(/ControlMaster=no -o ControlPath=none/);
    expect(sshBaseArgs(t, s, false).join(" ")).toMatch(/ControlMaster=auto -o ControlPath=\/tmp\/c\/%C/);
    expect(sshBaseArgs(t, s).join(" ")).toMatch(/StrictHostKeyChecking=yes/);
  });
});

describe("sudo", () => {
  it("gives the password on stdin, never in the command line", () => {
    const e = elevated({ kind: "sudo", password: "s3cret pw" }, ["oscd", "status"], "data");
    expect(e.remote).toMatch(/^sudo -S -k -p '' -- sh -c '.*' oscd-frame-[0-9a-f]{24} oscd status$/);
    expect(e.remote).not.toContain("s3cret");
    // The password line, then the frame marker the command's own input follows (sudo.test.ts).
    const marker = /oscd-frame-[0-9a-f]{24}/.exec(e.remote)?.[0];
    expect(e.input).toBe(`s3cret pw\n${marker}\ndata`);
    expect(elevated({ kind: "sudo" }, ["true"]).remote).toBe("sudo -n -- true");
    expect(elevated({ kind: "root" }, ["true"])).toEqual({ remote: "true", input: undefined });
  });
});
