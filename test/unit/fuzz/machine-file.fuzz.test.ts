import { describe, expect, it } from "vitest";
import { parseMachineConfig } from "../../../src/fleet/index.js";
import { deepToml, expectNoFailures, fuzzFailures, int, mutants, pick, retypeTomlLine, rng } from "./mutate.js";

const KEY = `fleet-1:${Buffer.alloc(32, 3).toString("base64")}`;
const FIXTURES = [
  "",
  `host = "web1"
remote = "https://example.org/fleet.git"
tagPrefix = "v"
substituters = ["https://cache.example.org"]
trustedPublicKeys = ["${KEY}", "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="]

[health]
retries = 2
commands = [["true"]]
`,
];
const EXTRAS = ["__proto__ = 1", "[__proto__]", "host = \"toString\"", "host = \"a\\nb\"", "trustedPublicKeys = [\"k:AAAA\"]", "trustedPublicKeys = [\"k:" + "A".repeat(4000) + "\"]", "[health.http]", "health.timeoutSeconds = 0"];

describe("fuzz: machine file (machine.toml)", () => {
  it("fails only with a typed one-line error on 2500 mutated machine files (seed 7001)", () => {
    const inputs = [...mutants(7001, 2500, FIXTURES, EXTRAS, (r, base) => (r() < 0.7 ? retypeTomlLine(r, base) : `${base}\n${deepToml(r, pick(r, ["x", "substituters", "health.commands"]))}`))];
    expectNoFailures(fuzzFailures(inputs, (t) => parseMachineConfig(t, "/etc/oscd/machine.toml")), inputs.length);
  });

  it("parses 300 generated valid machine files to what they say (seed 7002)", () => {
    for (const f of FIXTURES) expect(() => parseMachineConfig(f)).not.toThrow();
    const r = rng(7002);
    const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (let k = 0; k < 300; k++) {
      const host = pick(r, [...alnum]) + Array.from({ length: int(r, 30) }, () => pick(r, [...`${alnum}-_`])).join("");
      const keys = Array.from({ length: int(r, 3) }, (_, i) => `k${i}.${pick(r, [...alnum])}:${Buffer.from(Array.from({ length: 32 }, () => int(r, 256))).toString("base64")}`);
      const m = parseMachineConfig(`host = ${JSON.stringify(host)}\ntrustedPublicKeys = ${JSON.stringify(keys)}\n`);
      if (host in Object.prototype) continue;
      expect(m).toMatchObject({ host, trustedPublicKeys: keys });
    }
  });
});
