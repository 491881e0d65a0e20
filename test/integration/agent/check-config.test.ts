import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configFlags } from "../../../src/agent/index.js";
import { json, oscd } from "../builder/helpers.js";

const KEY = "fleet-1:5U2xWEanFJNHDeA0f4BvqSvVvc3KLMRVa2bJxPPz4Z8=";

describe("oscd agent --check-config", () => {
  it("prints the effective configuration with defaults, and refuses an unknown key by name (exit 2)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-agent-check-"));
    const file = join(dir, "agent.json");
    await writeFile(file, JSON.stringify({ trustedPublicKeys: [KEY], manifest: { urls: ["file:///srv/cache/channels/main.json"] }, remotes: [{ name: "local", url: "/srv/fleet" }] }));
    const ok = await oscd(["agent", "--check-config", file]);
    expect(ok.exitCode).toBe(0);
    const c = json<{ manifest: { channel: string; pollInterval: number }; remotes: { branches: { testing: { name: string } } }[]; controlSocket: string; endpoints: unknown }>(ok);
    expect(c.manifest).toMatchObject({ channel: "main", pollInterval: 60 });
    expect(c.endpoints).toEqual({ manifest: [{ url: "file:///srv/cache/channels/main.json" }] });
    expect(c.remotes[0]?.branches.testing.name).toBe("testing-{hostname}");
    expect(c.controlSocket).toBe("/run/oscd/agent.sock");

    await writeFile(file, JSON.stringify({ trustedPublicKeys: [KEY], manifest: { urls: ["file:///x.json"], pollIntervall: 5 } }));
    const bad = await oscd(["agent", "--check-config", file]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain(`oscd: error[agent-config]: ${file}: manifest: unknown key(s) pollIntervall`);
    expect(bad.stderr).toMatch(/^hint: /m);
  });

  it("with a server: the URLs it derives and `<from tokenFile>` where the token goes; the token itself is never read or printed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-agent-check-"));
    const tokenFile = join(dir, "server-token");
    await writeFile(tokenFile, "oscd_abc_TOKENSECRET\n", { mode: 0o600 });
    const file = join(dir, "agent.json");
    await writeFile(file, JSON.stringify({ trustedPublicKeys: [KEY], server: { url: "https://oscd.example.org", tokenFile, channel: "stable" }, manifest: { urls: ["https://cdn.example.org/stable.json"] } }));
    const ok = await oscd(["agent", "--check-config", file]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(`${ok.stdout}${ok.stderr}`).not.toContain("TOKENSECRET");
    const c = json<{ server: unknown; manifest: { channel: string }; endpoints: unknown }>(ok);
    expect(c.server).toEqual({ url: "https://oscd.example.org", tokenFile, channel: "stable" });
    expect(c.manifest.channel).toBe("stable");
    expect(c.endpoints).toEqual({
      manifest: [{ url: "https://oscd.example.org/api/v1/channels/stable/manifest", authorization: "Bearer <from tokenFile>" }, { url: "https://cdn.example.org/stable.json" }],
      reports: { url: "https://oscd.example.org/api/v1/reports", authorization: "Bearer <from tokenFile>" },
    });

    // The old way, the token in the URL, is refused with its own code; the token is not repeated.
    await writeFile(file, JSON.stringify({ trustedPublicKeys: [KEY], manifest: { urls: ["https://web1:oscd_abc_TOKENSECRET@oscd.example.org/api/v1/channels/main/manifest"] } }));
    const bad = await oscd(["agent", "--check-config", file]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain(`oscd: error[url-credentials]: ${file}: manifest.urls.0: the URL has credentials in it`);
    expect(bad.stderr).toMatch(/^hint: .*tokenFile/m);
    expect(bad.stderr).not.toContain("TOKENSECRET");
  });

  it("refuses requireSignedHistory without the keys to check it with", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-agent-check-"));
    const file = join(dir, "agent.json");
    await writeFile(file, JSON.stringify({ remotes: [{ name: "local", url: "/srv/fleet" }], requireSignedHistory: true }));
    const bad = await oscd(["agent", "--check-config", file]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`oscd: error[agent-config]: ${file}: requireSignedHistory: signed history needs the keys to check it with: set allowedSignersPath or gpgPublicKeyPaths`);
    await writeFile(file, JSON.stringify({ remotes: [{ name: "local", url: "/srv/fleet" }], requireSignedHistory: true, allowedSignersPath: "/etc/oscd/allowed_signers" }));
    expect((await oscd(["agent", "--check-config", file])).exitCode).toBe(0);
  });
});

/** Every leaf key path of a JSON value (objects descended, arrays and scalars are leaves). */
function leafPaths(v: unknown, path: string[] = []): string[] {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) return Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...path, k]));
  return [path.join(".")];
}

describe("oscd agent: every configuration key is a flag", () => {
  it("the module's complete configuration has a flag for each of its keys, and each flag is accepted", async () => {
    // The NixOS module test's EVERYTHING config written as the agent reads it: every key set.
    const everything = {
      hostname: "web1",
      machineId: "0123456789abcdef0123456789abcdef",
      stateDir: "/var/lib/oscd",
      trustedPublicKeys: [KEY],
      trustRoot: "/etc/oscd/trust-root.json",
      substituters: ["https://cache.example.org"],
      manifest: { urls: ["https://x/main.json"], channel: "main", operation: "switch", pollInterval: 60, randomizedDelaySec: 5, longPollSeconds: 55, timeout: 30, maxClockSkewSeconds: 300, allowNoExpiry: false, trustUrls: ["https://x/trust/"] },
      remotes: [],
      gpgPublicKeyPaths: [],
      allowedSignersPath: "/etc/oscd/allowed_signers",
      requireSignedHistory: true,
      flakeSubdirectory: "",
      evalTimeout: 1800,
      buildTimeout: 1800,
      switchTimeout: 600,
      switchWindows: [],
      outsideWindow: "wait",
      reboot: { policy: "never", rebootWindow: { lower: "01:00", upper: "03:00", days: ["mon"] }, randomizedDelaySec: 0 },
      health: { systemdUnits: true, commands: [], http: [], timeoutSeconds: 30, retries: 3, retryDelaySeconds: 2 },
      postDeploymentCommand: ["/bin/true"],
      controlSocket: "/run/oscd/agent.sock",
      exporter: { enable: true, listenAddress: "127.0.0.1", port: 4243 },
      server: { url: "https://control.example.org", tokenFile: "/run/credentials/oscd-agent.service/server-token", channel: "main", fallbackUrls: ["https://control2.example.org"] },
      reports: { retryInterval: 10 },
      backoff: { initial: 2, max: 300 },
      logLevel: "info",
      diff: false,
      retention: { keepGenerations: 10, keepDays: 30, collectGarbage: true, maxFreedMiB: 2048 },
      selfUpdate: { enable: true, unit: "oscd-agent.service", timeout: 120 },
    };
    // Reports go to the server when there is one; without it they name their own URL and token file.
    const { server: _s, ...withoutServer } = everything;
    const ownReports = { ...withoutServer, reports: { url: "https://control.example.org", tokenFile: "/etc/oscd/token", retryInterval: 10 } };
    const flags = new Map(configFlags().flatMap((f) => f.paths.map((p) => [p.join("."), f.flag] as const)));
    const covered = [...leafPaths(everything), ...leafPaths(ownReports)];
    // Every key of the schema appears in one of the two (check-config would refuse an unknown one).
    expect(covered.filter((p) => !flags.has(p))).toEqual([]);
    expect([...flags.keys()].filter((p) => !covered.includes(p))).toEqual([]);

    const dir = await mkdtemp(join(tmpdir(), "oscd-agent-flags-"));
    const empty = join(dir, "empty.json");
    await writeFile(empty, "{}");
    for (const config of [everything, ownReports]) {
      // Each flag on its own, with the value from the configuration, gives that value.
      const args: string[] = [];
      for (const f of configFlags()) {
        const v = f.path.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], config);
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const item of v) args.push(f.flag, typeof item === "string" ? item : JSON.stringify(item));
        else args.push(f.flag, String(v));
      }
      const r = await oscd(["agent", "--check-config", empty, ...args]);
      expect(r.exitCode, r.stderr).toBe(0);
      // An empty list is no flag at all: health (a partial object) then has no such key.
      const { commands: _c, http: _h, ...health } = config.health;
      const { endpoints: _e, ...effective } = json<Record<string, unknown>>(r);
      expect(effective).toEqual({ ...config, health });
    }
  });

  it("a flag replaces the file's value at its path and keeps the rest of the file; of an old and a new spelling the last wins", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-agent-flags-"));
    const file = join(dir, "agent.json");
    await writeFile(file, JSON.stringify({ trustedPublicKeys: [KEY], manifest: { urls: ["file:///srv/a.json"], channel: "beta", pollInterval: 9 }, exporter: { port: 9999 }, remotes: [{ name: "a", url: "/srv/a" }] }));
    const r = await oscd(["agent", "--check-config", file, "--poll-interval", "3", "--manifest-poll-interval", "5", "--exporter", "false", "--remote", '{"name":"b","url":"/srv/b"}', "--health-retries", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const c = json<{ manifest: { urls: string[]; channel: string; pollInterval: number }; exporter: { enable: boolean; port: number }; remotes: { name: string }[]; health: { retries: number } }>(r);
    expect(c.manifest).toMatchObject({ urls: ["file:///srv/a.json"], channel: "beta", pollInterval: 5 });
    expect(c.exporter).toMatchObject({ enable: false, port: 9999 });
    expect(c.remotes.map((x) => x.name)).toEqual(["b"]);
    expect(c.health).toEqual({ retries: 1 });

    const bad = await oscd(["agent", "--check-config", file, "--health-retries", "many"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('oscd: error[agent-config]: --health-retries: "many" is not a number');
    const badJson = await oscd(["agent", "--check-config", file, "--remote", "{name"]);
    expect(badJson.exitCode).toBe(2);
    expect(badJson.stderr).toContain("--remote:");
    // The short form of a remote, and --channel following the server's channel too.
    const short = await oscd(["agent", "--check-config", file, "--remote", "/srv/c", "--remote", "up=https://git.example.org/fleet", "--server", "https://control.example.org", "--server-token-file", "/etc/oscd/token", "--channel", "gamma"]);
    expect(short.exitCode, short.stderr).toBe(0);
    const s = json<{ remotes: { name: string; url: string }[]; server: { channel: string }; manifest: { channel: string } }>(short);
    expect(s.remotes.map((x) => [x.name, x.url])).toEqual([["origin", "/srv/c"], ["up", "https://git.example.org/fleet"]]);
    expect([s.server.channel, s.manifest.channel]).toEqual(["gamma", "gamma"]);
  });
});
