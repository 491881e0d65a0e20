import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkMachineId } from "../../../src/agent/agent.js";
import { parseAgentConfig } from "../../../src/agent/config.js";
import { inSubdirectory, remoteAuthEnv } from "../../../src/agent/git-source.js";
import type { PinnedSource } from "../../../src/source/index.js";

const remote = (auth: Record<string, string>) => parseAgentConfig({ remotes: [{ name: "o", url: "https://git.example.org/f.git", auth }] }).remotes[0]!;

describe("agent settings that reach git and the machine check", () => {
  it("sends an access token as an extra header through git's environment, never in argv or the URL", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-agent-auth-"));
    await writeFile(join(dir, "token"), "s3cr3t-token\n");
    const env = await remoteAuthEnv(remote({ accessTokenPath: join(dir, "token"), sshDeployKeyPath: "/run/keys/deploy" }));
    expect(env).toEqual({
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "http.extraHeader",
      GIT_CONFIG_VALUE_0: "Authorization: Bearer s3cr3t-token",
      GIT_SSH_COMMAND: "ssh -i '/run/keys/deploy' -o IdentitiesOnly=yes -o BatchMode=yes",
    });
    await writeFile(join(dir, "token"), "two\nlines\n");
    await expect(remoteAuthEnv(remote({ accessTokenPath: join(dir, "token") }))).rejects.toMatchObject({ code: "agent-config" });
  });

  it("evaluates a fleet in a subdirectory of the snapshot", () => {
    const p = { snapshot: { storePath: "/nix/store/abc-source", flakeRef: "path:/nix/store/abc-source?narHash=x" } } as PinnedSource;
    expect(inSubdirectory(p, "").snapshot).toBe(p.snapshot);
    expect(inSubdirectory(p, "fleet/").snapshot).toEqual({ storePath: "/nix/store/abc-source/fleet", flakeRef: "path:/nix/store/abc-source/fleet" });
  });

  it("refuses to run on another machine than machineId names", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-agent-mid-"));
    await writeFile(join(dir, "machine-id"), `${"a".repeat(32)}\n`);
    await expect(checkMachineId("a".repeat(32), join(dir, "machine-id"))).resolves.toBeUndefined();
    await expect(checkMachineId("b".repeat(32), join(dir, "machine-id"))).rejects.toMatchObject({ code: "wrong-machine", exitCode: 3 });
    await expect(checkMachineId(undefined, join(dir, "missing"))).resolves.toBeUndefined();
  });
});
