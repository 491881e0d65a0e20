import { describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { commandLine, parseSshTarget, shellQuote, sshBaseArgs } from "../../../src/deploy/ssh.js";
import { elevated } from "../../../src/deploy/sudo.js";

describe("ssh targets", () => {
  it("parses user@address[:port], root by default", () => {
    expect(parseSshTarget("web1", undefined)).toEqual({ host: "web1", destination: "root@web1", user: "root", port: undefined });
    expect(parseSshTarget("web1", "deploy@10.0.0.5:2222")).toEqual({ host: "web1", destination: "deploy@10.0.0.5", user: "deploy", port: 2222 });
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
    expect(e.remote).toBe("sudo -S -k -p '' -- oscd status");
    expect(e.remote).not.toContain("s3cret");
    expect(e.input).toBe("s3cret pw\ndata");
    expect(elevated({ kind: "sudo" }, ["true"]).remote).toBe("sudo -n -- true");
    expect(elevated({ kind: "root" }, ["true"])).toEqual({ remote: "true", input: undefined });
  });
});
