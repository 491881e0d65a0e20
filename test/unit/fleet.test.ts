import { describe, expect, it } from "vitest";
import { parseFleetFile, selectHosts, FleetConfigError, hostAttribute, hostHealth, type Fleet } from "../../src/fleet/index.js";

describe("fleet file", () => {
  it("fills defaults for an empty file", () => {
    const f = parseFleetFile("");
    expect(f.release).toMatchObject({ branch: "main", versionFile: "VERSION", tagPrefix: "v", strategy: "sequential" });
    expect(f.release.labels).toEqual({ major: "release:major", minor: "release:minor", patch: "release:patch" });
    expect(f.channels.main).toEqual({ operation: "switch" });
  });

  it("reads hosts, tags, health and per-host attributes", () => {
    const f = parseFleetFile(`
[fleet]
layout = "classic"
attribute = "hosts.{host}"
[health]
retries = 5
[hosts.web1]
tags = ["web"]
system = "aarch64-linux"
health = { commands = [["true"]] }
`);
    const fleet: Fleet = { root: "/x", layout: "classic", config: f };
    expect(hostAttribute(fleet, "web1")).toBe("hosts.web1");
    expect(hostHealth(fleet, "web1")).toMatchObject({ retries: 5, commands: [["true"]], systemdUnits: true });
  });

  it.each([
    ["[fleet\nname=", "not valid TOML"],
    ["[relase]\nbranch = 'main'", "unknown key(s) \"relase\""],
    ["[release]\nstrategy = 'lowest'", "release.strategy"],
    ["[keys]\ntrusted = ['nope']", "keys.trusted.0: a Nix public key looks like name:base64"],
    ["caches = ['ftp://x']", "caches.0"],
    ["[hosts.'bad name']", 'hosts."bad name"'],
  ])("rejects %j naming the place", (text, where) => {
    expect(() => parseFleetFile(text, "oscd.toml")).toThrow(FleetConfigError);
    expect(() => parseFleetFile(text, "oscd.toml")).toThrow(where);
  });
});

describe("host selection", () => {
  const hosts = [
    { name: "web1", tags: ["web"] },
    { name: "web2", tags: ["web", "eu"] },
    { name: "db1", tags: ["db"] },
  ];
  it("selects by name, glob and tag, keeping fleet order", () => {
    expect(selectHosts(hosts, undefined).map((h) => h.name)).toEqual(["web1", "web2", "db1"]);
    expect(selectHosts(hosts, "db1,web*").map((h) => h.name)).toEqual(["web1", "web2", "db1"]);
    expect(selectHosts(hosts, "@eu").map((h) => h.name)).toEqual(["web2"]);
    expect(selectHosts(hosts, "web?").map((h) => h.name)).toEqual(["web1", "web2"]);
  });
  it("refuses a term that matches nothing", () => {
    expect(() => selectHosts(hosts, "web1,mail*")).toThrow(/"mail\*" matches no host/);
  });
});

describe("fleet JSON Schema", () => {
  it("describes the sections and rejects unknown keys, like the validator", async () => {
    const { fleetJsonSchema } = await import("../../src/fleet/index.js");
    const s = (await fleetJsonSchema()) as { definitions: { oscd: { properties: Record<string, unknown>; additionalProperties: boolean } } };
    expect(Object.keys(s.definitions.oscd.properties).sort()).toEqual(["caches", "channels", "fleet", "health", "hosts", "keys", "release", "update"]);
    expect(s.definitions.oscd.additionalProperties).toBe(false);
  });
});

describe("machine configuration", () => {
  it("defaults when the file is missing, and names the file and key when it is wrong", async () => {
    const { loadMachineConfig } = await import("../../src/fleet/index.js");
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "oscd-machine-"));
    try {
      expect(await loadMachineConfig(join(dir, "none.toml"))).toMatchObject({ tagPrefix: "v", substituters: [] });
      await expect(loadMachineConfig(join(dir, "none.toml"), true)).rejects.toThrow(/none\.toml: cannot read: ENOENT/);
      const bad = join(dir, "bad.toml");
      await writeFile(bad, 'remote = "x"\nhots = "web1"\n');
      await expect(loadMachineConfig(bad)).rejects.toThrow(/bad\.toml: .*unknown key\(s\) "hots"/);
      await writeFile(bad, "remote = ");
      const err = await loadMachineConfig(bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FleetConfigError);
      expect((err as FleetConfigError).exitCode).toBe(2);
      expect((err as FleetConfigError).message).toMatch(/bad\.toml: not valid TOML/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("names that enter through the fleet file (issue 9)", () => {
  const channel = (name: string) => `[channels.${JSON.stringify(name)}]\nbranch = "main"\n`;

  it.each(["../../etc", "a/b", "main.1", "-x", "", "x".repeat(101), "a\nb"])("refuses the channel name %j, naming it", (name) => {
    const err = (() => {
      try {
        parseFleetFile(channel(name), "oscd.toml");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FleetConfigError);
    expect((err as Error).message).toMatch(/^oscd\.toml: channels\./);
    expect((err as Error).message).not.toMatch(/\n/);
  });

  it("refuses __proto__ as a channel or host instead of silently dropping it", () => {
    expect(() => parseFleetFile('[channels.__proto__]\nbranch = "evil"\n')).toThrow(/channels\.__proto__: .*reserved/);
    expect(() => parseFleetFile('[channels]\n__proto__ = { branch = "evil" }\n')).toThrow(/channels\.__proto__: .*reserved/);
    expect(() => parseFleetFile('[hosts.__proto__]\ntags = ["x"]\n')).toThrow(/hosts\.__proto__: .*reserved/);
    expect(() => parseFleetFile('[health.__proto__]\nretries = 1\n')).toThrow(FleetConfigError);
  });

  it.each(["constructor", "toString", "hasOwnProperty", "valueOf"])("refuses %j as a channel or host name", (name) => {
    expect(() => parseFleetFile(channel(name))).toThrow(/reserved/);
    expect(() => parseFleetFile(`[hosts.${name}]\n`)).toThrow(/reserved/);
  });

  it("looks channels and hosts up by own property only: toString is not a channel", async () => {
    const { fleetChannel } = await import("../../src/fleet/index.js");
    const f = parseFleetFile('[channels.main]\nbranch = "main"\n[hosts.web1]\nsystem = "aarch64-linux"\n');
    expect(fleetChannel(f, "main")).toEqual({ branch: "main", operation: "switch" });
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
      expect(fleetChannel(f, name)).toBeUndefined();
      // Also for code that still asks with `in`: the parsed tables have no prototype.
      expect(name in f.channels).toBe(false);
      expect(name in f.hosts).toBe(false);
    }
    const fleet: Fleet = { root: "/x", layout: "flake", config: f };
    expect(hostAttribute(fleet, "constructor")).toBe("nixosConfigurations.constructor.config.system.build.toplevel");
  });

  it.each([
    ["VER\u0000SION", "control character"],
    ["VERSION\n", "control character"],
    ["/etc/VERSION", "relative"],
    ["../VERSION", ".."],
    ["a/../../VERSION", ".."],
    ["", "empty"],
  ])("refuses release.versionFile %j when the file is loaded", (value, why) => {
    const text = `[release]\nversionFile = ${JSON.stringify(value)}\n`;
    expect(() => parseFleetFile(text, "oscd.toml")).toThrow(FleetConfigError);
    expect(() => parseFleetFile(text, "oscd.toml")).toThrow(new RegExp(`release\\.versionFile: .*${why.replace(".", "\\.")}`));
  });

  it.each([
    ["nope", "name:base64"],
    ["fleet:AAAA", "3 bytes, expected 32"],
    [`fleet:${Buffer.alloc(31).toString("base64")}`, "31 bytes, expected 32"],
    [`fleet:${Buffer.alloc(64).toString("base64")}`, "64 bytes, expected 32"],
  ])("checks the length of keys.trusted key %j at load, naming the key", (key, why) => {
    expect(() => parseFleetFile(`[keys]\ntrusted = [${JSON.stringify(key)}]\n`, "oscd.toml")).toThrow(`oscd.toml: keys.trusted.0: `);
    expect(() => parseFleetFile(`[keys]\ntrusted = [${JSON.stringify(key)}]\n`, "oscd.toml")).toThrow(why);
  });
});

describe("machine.toml validation (issue 9)", () => {
  const good = `fleet-1:${Buffer.alloc(32, 7).toString("base64")}`;
  it("accepts a valid host and trusted keys", async () => {
    const { parseMachineConfig } = await import("../../src/fleet/index.js");
    expect(parseMachineConfig(`host = "web1"\ntrustedPublicKeys = [${JSON.stringify(good)}]\n`, "/etc/oscd/machine.toml")).toMatchObject({ host: "web1", trustedPublicKeys: [good] });
  });
  it.each([
    [`trustedPublicKeys = ["fleet-1:AAAA"]`, "trustedPublicKeys.0: public key fleet-1 has 3 bytes, expected 32"],
    [`trustedPublicKeys = [${JSON.stringify(good)}, "junk"]`, "trustedPublicKeys.1: "],
    [`trustedPublicKeys = ["fleet 1:${Buffer.alloc(32).toString("base64")}"]`, "trustedPublicKeys.0: "],
    [`host = "../web1"`, "host: "],
    [`host = "web1\\nweb2"`, "host: "],
    [`host = ""`, "host: "],
    [`host = "toString"`, "host: "],
  ])("refuses %j at load, naming the key and the file", async (text, where) => {
    const { loadMachineConfig } = await import("../../src/fleet/index.js");
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "oscd-machine-"));
    try {
      const file = join(dir, "machine.toml");
      await writeFile(file, text + "\n");
      const err = await loadMachineConfig(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FleetConfigError);
      expect((err as Error).message).toContain(`${file}: ${where}`);
      expect((err as Error).message).not.toMatch(/\n/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("values that reach argv: SSH targets, tag prefixes, cache URLs", () => {
  it.each(["-oProxyCommand=touch /tmp/pwned", "root@-oProxyCommand=x", "root@web1 -p 2222", "web1\nhost", "@web1", "", "web1:0", "web1:65536", "web1:22x", "web1:", "fd00::7", "root@fd00::7:22", "[fd00::7]:-1", "web1:2222;id"])("refuses the SSH target %j", (ssh) => {
    expect(() => parseFleetFile(`[hosts.web1]\nssh = ${JSON.stringify(ssh)}\n`, "oscd.toml")).toThrow(/hosts\.web1\.ssh: an SSH target/);
  });

  it.each(["root@web1.example.org", "web1", "deploy@10.0.0.7", "root@[fd00::7]", "web_1", "deploy@10.0.0.7:2222", "web1:65535", "[fd00::7]:22", "root@[fd00::7]:2222"])("accepts the SSH target %j", (ssh) => {
    expect(parseFleetFile(`[hosts.web1]\nssh = ${JSON.stringify(ssh)}\n`).hosts.web1?.ssh).toBe(ssh);
  });

  it.each(["-v", "v ", "a..b", "/v", "v\u0000", "x~", "a//b"])("refuses the tag prefix %j", (prefix) => {
    expect(() => parseFleetFile(`[release]\ntagPrefix = ${JSON.stringify(prefix)}\n`, "oscd.toml")).toThrow(/release\.tagPrefix/);
  });

  it.each(["v", "", "fleet-", "release/v", "r_1."])("accepts the tag prefix %j", (prefix) => {
    expect(parseFleetFile(`[release]\ntagPrefix = ${JSON.stringify(prefix)}\n`).release.tagPrefix).toBe(prefix);
  });

  it("refuses a cache URL with spaces or control characters", () => {
    expect(() => parseFleetFile('caches = ["file:///srv/cache --option x"]\n', "oscd.toml")).toThrow(/caches\.0: a store URL has no spaces/);
    expect(() => parseFleetFile('caches = ["https://cache.example.org/\\u001b[2K"]\n', "oscd.toml")).toThrow(/caches\.0/);
  });
});
