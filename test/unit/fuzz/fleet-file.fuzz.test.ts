import { describe, expect, it } from "vitest";
import { parseFleetFile } from "../../../src/fleet/index.js";
import { deepToml, expectNoFailures, fuzzFailures, int, mutants, pick, retypeTomlLine, rng } from "./mutate.js";

const KEY = `fleet-1:${Buffer.alloc(32, 9).toString("base64")}`;

const FIXTURES = [
  "",
  `caches = ["https://cache.example.org", "file:///srv/cache"]

[fleet]
name = "prod"
layout = "flake"
system = "x86_64-linux"
remote = "https://example.org/fleet.git"

[release]
branch = "main"
versionFile = "VERSION"
tagPrefix = "v"
strategy = "sequential"

[release.labels]
major = "release:major"
minor = "release:minor"
patch = "release:patch"

[keys]
trusted = ["${KEY}"]

[channels.main]
branch = "main"
operation = "switch"

[channels.staging]
branch = "staging"
operation = "boot"

[health]
systemdUnits = true
commands = [["systemctl", "is-active", "nginx"]]
http = [{ url = "http://localhost/health", status = 200, contains = "ok" }]
timeoutSeconds = 30
retries = 3
retryDelaySeconds = 2

[hosts.web1]
tags = ["web", "eu"]
ssh = "root@web1.example.org"
machineId = "0123456789abcdef0123456789abcdef"
health = { retries = 5 }

[hosts.db1]
tags = ["db"]
system = "aarch64-linux"
attribute = "nixosConfigurations.db1.config.system.build.toplevel"
`,
];

const EXTRAS = [
  "[channels.__proto__]",
  "[channels.\"../../etc\"]",
  "[channels.toString]",
  "[hosts.constructor]",
  "[hosts.\"a\\nb\"]",
  "__proto__ = 1",
  "[__proto__]",
  "[[hosts]]",
  "channels.main.branch = \"x\"",
  "hosts.web1.tags = [\"a\", 1]",
  "[release]\nversionFile = \"VER\\u0000SION\"",
  "[channels.main]\noperation = \"a\\nb\"",
  "[keys]\ntrusted = [\"k:AAAA\"]",
  "a.b.c = 1",
  "x = \"\\ud800\"",
];

describe("fuzz: fleet file (oscd.toml)", () => {
  it("fails only with a typed one-line error on 3000 mutated fleet files (seed 9001)", () => {
    const inputs = [...mutants(9001, 3000, FIXTURES, EXTRAS, (r, base) => (r() < 0.7 ? retypeTomlLine(r, base) : `${base}\n${deepToml(r, pick(r, ["x", "caches", "channels.main.branch", "hosts.web1.tags"]))}`))];
    expectNoFailures(fuzzFailures(inputs, (t) => parseFleetFile(t, "oscd.toml")), inputs.length);
  });

  it("parses 500 generated valid fleet files to what they say (seed 9002)", () => {
    for (const f of FIXTURES) expect(() => parseFleetFile(f)).not.toThrow();
    const r = rng(9002);
    const word = (first: string, rest: string) => pick(r, [...first]) + Array.from({ length: int(r, 12) }, () => pick(r, [...rest])).join("");
    const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (let k = 0; k < 500; k++) {
      const channels = [...new Set(Array.from({ length: 1 + int(r, 3) }, () => word(alnum, `${alnum}-_`)))].filter((n) => !(n in Object.prototype));
      const hosts = [...new Set(Array.from({ length: int(r, 4) }, () => word(alnum, `${alnum}-_`)))].filter((n) => !(n in Object.prototype));
      const text = [
        ...channels.map((c) => `[channels.${c}]\nbranch = ${JSON.stringify(word(alnum, `${alnum}/-_.`))}\noperation = ${JSON.stringify(pick(r, ["switch", "boot", "test", "dry-activate"]))}`),
        ...hosts.map((h) => `[hosts.${h}]\ntags = ${JSON.stringify([word(alnum, alnum)])}`),
        `[release]\nversionFile = ${JSON.stringify(`${word(alnum, alnum)}/${word(alnum, `${alnum}.-_`)}`)}`,
      ].join("\n");
      const f = parseFleetFile(text);
      expect(Object.keys(f.channels).sort()).toEqual([...channels].sort());
      expect(Object.keys(f.hosts).sort()).toEqual([...hosts].sort());
    }
  });
});
