import { describe, expect, it } from "vitest";
import { parseFleetFile, selectHosts, FleetConfigError, hostAttribute, hostHealth, type Fleet } from "../../src/fleet/index.js";

describe("fleet file", () => {
  it("fills defaults for an empty file", () => {
    const f = parseFleetFile("");
    expect(f.release).toMatchObject({ branch: "main", versionFile: "VERSION", tagPrefix: "v", strategy: "sequential" });
    expect(f.release.labels).toEqual({ major: "release:major", minor: "release:minor", patch: "release:patch" });
    expect(f.channels.main).toEqual({ branch: "main", operation: "switch" });
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
    ["[hosts.'bad name']", "hosts.bad name"],
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
    expect(Object.keys(s.definitions.oscd.properties).sort()).toEqual(["caches", "channels", "fleet", "health", "hosts", "keys", "release"]);
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
      await expect(loadMachineConfig(bad)).rejects.toThrow(/bad\.toml: .*Unrecognized key\(s\) in object: 'hots'/);
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
