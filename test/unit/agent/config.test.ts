import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AgentConfigError, UrlCredentialsError, branchName, describeEndpoints, loadAgentConfig, manifestEndpoints, parseAgentConfig, reportTarget, resolveAgentConfig } from "../../../src/agent/index.js";

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
      // longPollSeconds unset: the hold the server says (55 when it says none)
      timeout: 30,
      maxClockSkewSeconds: 300,
      allowNoExpiry: false,
      trustUrls: [],
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
    [{}, "server: configure a manifest source (server or manifest.urls), git remotes, or both"],
    [{ trustedPublicKeys: [KEY], manifest: { pollInterval: 5 }, remotes: [{ name: "o", url: "/x" }] }, "manifest.urls: no manifest URL and no server"],
    [{ server: { url: "https://oscd.example.org", tokenFile: "/run/t" } }, "trustedPublicKeys: a manifest source needs at least one trusted key"],
    [{ ...minimal, trustedPublicKeys: ["k:abc"] }, "trustedPublicKeys.0"],
    [{ ...minimal, trustedPublicKeys: ["fleet-1:AAAA"] }, "trustedPublicKeys.0"],
    [{ trustedPublicKeys: [KEY], server: { url: "https://oscd.example.org/?x=1", tokenFile: "/run/t" } }, "server.url: an http:// or https:// URL without query or fragment"],
    [{ trustedPublicKeys: [KEY], server: { url: "https://oscd.example.org", tokenFile: "token" } }, "server.tokenFile: an absolute path"],
    [{ trustedPublicKeys: [KEY], server: { url: "https://oscd.example.org", tokenFile: "/run/t", token: "oscd_x" } }, "server: unknown key(s) token"],
    [{ trustedPublicKeys: [KEY], server: { url: "https://oscd.example.org", tokenFile: "/run/t", channel: "beta" }, manifest: { channel: "main" } }, "manifest.channel: main differs from server.channel beta"],
    [{ trustedPublicKeys: [KEY], server: { url: "https://oscd.example.org", tokenFile: "/run/t" }, reports: { url: "https://other.example.org" } }, "reports.url: reports go to server.url with server.tokenFile"],
    [{ ...minimal, reports: { url: "https://oscd.example.org" } }, "reports.tokenFile: reports need url and tokenFile (or set server)"],
    [{ remotes: [{ name: "a", url: "/x" }, { name: "a", url: "/y" }] }, "remotes.1.name: remote a is listed twice"],
    [{ ...minimal, manifest: { ...minimal.manifest, pollInterval: 0 } }, "manifest.pollInterval"],
    [{ ...minimal, stateDir: "relative" }, "stateDir: an absolute path"],
    [{ ...minimal, postDeploymentCommand: "echo hi" }, "postDeploymentCommand"],
  ])("refuses %j naming the key", (raw, expected) => {
    expect(refusal(raw)).toContain(expected);
  });

  it("--check-config parses trusted keys as keys: a name and a 32-byte ed25519 key, not any base64", () => {
    // The old rule (name:base64) accepted both of these; neither can check a signature.
    expect(() => parseAgentConfig({ ...minimal, trustedPublicKeys: ["k:abc"] })).toThrow(AgentConfigError);
    expect(() => parseAgentConfig({ ...minimal, trustedPublicKeys: [`k:${Buffer.alloc(31).toString("base64")}`] })).toThrow(/trustedPublicKeys\.0/);
    expect(parseAgentConfig(minimal).trustedPublicKeys).toEqual([KEY]);
  });

  it("a server alone is a manifest source and a report target: URLs from one setting, the token from its file", () => {
    const c = parseAgentConfig({ trustedPublicKeys: [KEY], server: { url: "https://oscd.example.org/", tokenFile: "/run/credentials/oscd-agent.service/server-token" } });
    expect(c.server).toEqual({ url: "https://oscd.example.org/", tokenFile: "/run/credentials/oscd-agent.service/server-token", channel: "main" });
    expect(c.manifest).toMatchObject({ urls: [], channel: "main", pollInterval: 60, });
    expect(c.manifest?.longPollSeconds).toBeUndefined();
    expect(manifestEndpoints(c)).toEqual([{ url: "https://oscd.example.org/api/v1/channels/main/manifest", tokenFile: "/run/credentials/oscd-agent.service/server-token" }]);
    expect(reportTarget(c)).toEqual({ url: "https://oscd.example.org", tokenFile: "/run/credentials/oscd-agent.service/server-token", retryInterval: 10 });
    expect(describeEndpoints(c)).toEqual({
      manifest: [{ url: "https://oscd.example.org/api/v1/channels/main/manifest", authorization: "Bearer <from tokenFile>" }],
      reports: { url: "https://oscd.example.org/api/v1/reports", authorization: "Bearer <from tokenFile>" },
    });
  });

  it("servers of one fleet on one database: fallbackUrls come after url, for manifests and reports, each sent the token; mirrors last", () => {
    const c = parseAgentConfig({ trustedPublicKeys: [KEY], server: { url: "https://a.example.org/", fallbackUrls: ["https://b.example.org"], tokenFile: "/run/t" }, manifest: { urls: ["https://cdn.example.org/main.json"] } });
    expect(manifestEndpoints(c)).toEqual([
      { url: "https://a.example.org/api/v1/channels/main/manifest", tokenFile: "/run/t" },
      { url: "https://b.example.org/api/v1/channels/main/manifest", tokenFile: "/run/t" },
      { url: "https://cdn.example.org/main.json" },
    ]);
    expect(reportTarget(c)).toEqual({ url: "https://a.example.org", fallbackUrls: ["https://b.example.org"], tokenFile: "/run/t", retryInterval: 10 });
    expect(describeEndpoints(c).reports).toEqual({ url: "https://a.example.org/api/v1/reports", fallbackUrls: ["https://b.example.org/api/v1/reports"], authorization: "Bearer <from tokenFile>" });
    // A token never goes in a URL, a fallback's included.
    expect(() => parseAgentConfig({ trustedPublicKeys: [KEY], server: { url: "https://a.example.org", fallbackUrls: ["https://h:secret@b.example.org"], tokenFile: "/run/t" } })).toThrow(UrlCredentialsError);
  });

  it("one channel for the server and its mirrors, from either setting; mirrors come after the server and get no token", () => {
    const server = { url: "https://oscd.example.org/fleet", tokenFile: "/run/t" };
    const fromManifest = parseAgentConfig({ trustedPublicKeys: [KEY], server, manifest: { channel: "beta", urls: ["https://cdn.example.org/beta.json"] }, reports: { retryInterval: 3 } });
    expect(fromManifest.server?.channel).toBe("beta");
    expect(manifestEndpoints(fromManifest)).toEqual([{ url: "https://oscd.example.org/fleet/api/v1/channels/beta/manifest", tokenFile: "/run/t" }, { url: "https://cdn.example.org/beta.json" }]);
    expect(reportTarget(fromManifest)?.retryInterval).toBe(3);
    const fromServer = parseAgentConfig({ trustedPublicKeys: [KEY], server: { ...server, channel: "beta" }, manifest: { pollInterval: 5 } });
    expect(fromServer.manifest).toMatchObject({ channel: "beta", pollInterval: 5 });
    // Without a server, reports keep their own URL and token file; without either, there are none.
    expect(reportTarget(parseAgentConfig({ ...minimal, reports: { url: "https://r.example.org", tokenFile: "/run/r" } }))).toEqual({ url: "https://r.example.org", tokenFile: "/run/r", retryInterval: 10 });
    expect(reportTarget(parseAgentConfig(minimal))).toBeUndefined();
    expect(describeEndpoints(parseAgentConfig(minimal))).toEqual({ manifest: [{ url: minimal.manifest.urls[0] }] });
  });

  it.each([
    ["manifest.urls.0", { ...minimal, manifest: { urls: ["https://web1:oscd_abc_s3cret@oscd.example.org/api/v1/channels/main/manifest"] } }],
    ["server.url", { trustedPublicKeys: [KEY], server: { url: "https://web1:oscd_abc_s3cret@oscd.example.org", tokenFile: "/run/t" } }],
    ["reports.url", { ...minimal, reports: { url: "https://:oscd_abc_s3cret@oscd.example.org", tokenFile: "/run/t" } }],
    ["manifest.urls.0", { ...minimal, manifest: { urls: ["http://oscd_abc_s3cret@cache.example.org/main.json"] } }],
  ])("a URL with credentials in it (%s) is refused with its own code, naming where, without repeating them", (at, raw) => {
    let err: unknown;
    try {
      parseAgentConfig(raw, "agent.json");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UrlCredentialsError);
    const e = err as UrlCredentialsError;
    expect(e.code).toBe("url-credentials");
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(`agent.json: ${at}: the URL has credentials in it`);
    expect(e.hint).toContain("tokenFile");
    expect(`${e.message} ${e.hint ?? ""}`).not.toContain("s3cret");
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
