import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AgentConfigError, branchName, loadAgentConfig, parseAgentConfig, resolveAgentConfig } from "../../../src/agent/index.js";

const KEY = "fleet-1:5U2xWEanFJNHDeA0f4BvqSvVvc3KLMRVa2bJxPPz4Z8=";
const minimal = { trustedPublicKeys: [KEY], manifest: { urls: ["https://cache.example.org/channels/main.json"] } };

function refusal(raw: unknown): string {
  try {
    parseAgentConfig(raw, "agent.json");
  } catch (e) {
    expect(e).toBeInstanceOf(AgentConfigError);
    expect((e as AgentConfigError).exitCode).toBe(2);
    expect((e as AgentConfigError).code).toBe("agent-config");
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("agent configuration", () => {
  it("fills every default of a minimal manifest configuration", () => {
    const c = parseAgentConfig(minimal);
    expect(c.manifest).toEqual({
      urls: ["https://cache.example.org/channels/main.json"],
      channel: "main",
      operation: "switch",
      pollInterval: 60,
      randomizedDelaySec: 5,
      longPollSeconds: 55,
      timeout: 30,
      maxClockSkewSeconds: 300,
      allowNoExpiry: false,
    });
    expect(c).toMatchObject({ stateDir: "/var/lib/oscd", controlSocket: "/run/oscd/agent.sock", outsideWindow: "wait", switchWindows: [], reboot: { policy: "never", randomizedDelaySec: 0 }, exporter: { enable: true, port: 4243, listenAddress: "127.0.0.1" } });
  });

  it("retention is off unless set, self-update on with the module's unit; both refuse nonsense and have flags of their own", async () => {
    const c = parseAgentConfig(minimal);
    expect(c.retention).toBeUndefined();
    expect(c.selfUpdate).toEqual({ enable: true, unit: "oscd-agent.service", timeout: 120 });
    expect(parseAgentConfig({ ...minimal, retention: { keepGenerations: 10, keepDays: 30 } }).retention).toEqual({ keepGenerations: 10, keepDays: 30, collectGarbage: false });
    expect(refusal({ ...minimal, retention: { keepGenerations: 0 } })).toMatch(/retention\.keepGenerations/);
    expect(refusal({ ...minimal, retention: { keep: 3 } })).toMatch(/retention: unknown key\(s\) keep/);
    expect(refusal({ ...minimal, selfUpdate: { unit: "oscd-agent; rm -rf /" } })).toMatch(/selfUpdate\.unit: a systemd service unit name/);
    const flagged = await resolveAgentConfig(undefined, { ...{ manifestUrl: minimal.manifest.urls, trustedPublicKey: minimal.trustedPublicKeys }, settings: [{ path: ["retention", "keepGenerations"], value: 5 }, { path: ["selfUpdate", "enable"], value: false }] });
    expect(flagged.retention).toMatchObject({ keepGenerations: 5 });
    expect(flagged.selfUpdate.enable).toBe(false);
  });

  it("gives each git remote comin's defaults: main → switch, testing-{hostname} → test, 60 s poller", () => {
    const c = parseAgentConfig({ remotes: [{ name: "origin", url: "https://git.example.org/fleet.git" }, { name: "local", url: "/srv/fleet", poller: { period: 1 } }] });
    expect(c.remotes[0]).toEqual({ name: "origin", url: "https://git.example.org/fleet.git", auth: {}, timeout: 300, poller: { period: 60 }, branches: { main: { name: "main", operation: "switch" }, testing: { name: "testing-{hostname}", operation: "test" } } });
    expect(c.remotes[1]?.poller.period).toBe(1);
    expect(branchName(c.remotes[0]!.branches.testing.name, "web1")).toBe("testing-web1");
  });

  it.each([
    [{ ...minimal, pollInterval: 5 }, "(top level): unknown key(s) pollInterval"],
    [{ ...minimal, manifest: { ...minimal.manifest, url: "x" } }, "manifest: unknown key(s) url"],
    [{ remotes: [{ name: "o", url: "/x", poller: { periode: 1 } }] }, "remotes.0.poller: unknown key(s) periode"],
    [{ remotes: [{ name: "o", url: "/x", branches: { main: { name: "main", operation: "reboot" } } }] }, "remotes.0.branches.main.operation"],
    [{ remotes: [{ name: "o", url: "/x", auth: { access_token_path: "/k" } }] }, "remotes.0.auth: unknown key(s) access_token_path"],
    [{ ...minimal, reboot: { policy: "always" } }, "reboot.policy"],
    [{ ...minimal, switchWindows: [{ lower: "25:00", upper: "04:00" }] }, "switchWindows.0.lower: a time of day HH:MM"],
    [{ ...minimal, manifest: { urls: ["ftp://x/main.json"] } }, "manifest.urls.0: a file://, http:// or https:// URL"],
    [{ ...minimal, trustedPublicKeys: [] }, "trustedPublicKeys: a manifest source needs at least one trusted key"],
    [{}, "manifest: configure a manifest source, git remotes, or both"],
    [{ remotes: [{ name: "a", url: "/x" }, { name: "a", url: "/y" }] }, "remotes.1.name: remote a is listed twice"],
    [{ ...minimal, manifest: { ...minimal.manifest, pollInterval: 0 } }, "manifest.pollInterval"],
    [{ ...minimal, stateDir: "relative" }, "stateDir: an absolute path"],
    [{ ...minimal, postDeploymentCommand: "echo hi" }, "postDeploymentCommand"],
  ])("refuses %j naming the key", (raw, expected) => {
    expect(refusal(raw)).toContain(expected);
  });

  it("reads a file, refuses one that is not JSON or not an object, and lays flags over the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-agent-config-"));
    const file = join(dir, "agent.json");
    await writeFile(file, JSON.stringify(minimal));
    expect((await loadAgentConfig(file)).manifest?.channel).toBe("main");
    const c = await resolveAgentConfig(file, { channel: "beta", pollInterval: 2, remote: ["local=/srv/fleet", "https://git.example.org/f.git"], exporter: false });
    expect(c.manifest).toMatchObject({ channel: "beta", pollInterval: 2, urls: minimal.manifest.urls });
    expect(c.remotes.map((r) => [r.name, r.url])).toEqual([["local", "/srv/fleet"], ["remote1", "https://git.example.org/f.git"]]);
    expect(c.exporter.enable).toBe(false);
    await writeFile(file, '{"manifest": ');
    await expect(loadAgentConfig(file)).rejects.toThrow(/agent\.json: not JSON/);
    await writeFile(file, "[]");
    await expect(loadAgentConfig(file)).rejects.toThrow(/expected a JSON object/);
    await expect(loadAgentConfig(join(dir, "missing.json"))).rejects.toThrow(/cannot read: ENOENT/);
  });
});
