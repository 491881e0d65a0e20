import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { json, oscd } from "../builder/helpers.js";

const KEY = "fleet-1:5U2xWEanFJNHDeA0f4BvqSvVvc3KLMRVa2bJxPPz4Z8=";

describe("oscd agent --check-config", () => {
  it("prints the effective configuration with defaults, and refuses an unknown key by name (exit 2)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-agent-check-"));
    const file = join(dir, "agent.json");
    await writeFile(file, JSON.stringify({ trustedPublicKeys: [KEY], manifest: { urls: ["file:///srv/cache/channels/main.json"] }, remotes: [{ name: "local", url: "/srv/fleet" }] }));
    const ok = await oscd(["agent", "--check-config", file]);
    expect(ok.exitCode).toBe(0);
    const c = json<{ manifest: { channel: string; pollInterval: number }; remotes: { branches: { testing: { name: string } } }[]; controlSocket: string }>(ok);
    expect(c.manifest).toMatchObject({ channel: "main", pollInterval: 60 });
    expect(c.remotes[0]?.branches.testing.name).toBe("testing-{hostname}");
    expect(c.controlSocket).toBe("/run/oscd/agent.sock");

    await writeFile(file, JSON.stringify({ trustedPublicKeys: [KEY], manifest: { urls: ["file:///x.json"], pollIntervall: 5 } }));
    const bad = await oscd(["agent", "--check-config", file]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain(`oscd: error[agent-config]: ${file}: manifest: unknown key(s) pollIntervall`);
    expect(bad.stderr).toMatch(/^hint: /m);
  });
});
