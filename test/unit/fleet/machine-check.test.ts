import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetConfigError, healthSchema, loadMachineConfig, machineSchema, parseMachineConfig } from "../../../src/fleet/index.js";
import { fullHealth, plainMachineConfig } from "../../../src/fleet/machine-check.js";
import { parseTomlFile } from "../../../src/fleet/toml.js";
import { mutants, retypeTomlLine } from "../fuzz/mutate.js";

/*
 * machine.toml's plain check (src/fleet/machine-check.ts) against machineSchema, which stays the
 * definition: whatever the plain check accepts, zod accepts with the very same value (fields,
 * defaults, order); whatever it is unsure of goes to zod, so loadMachineConfig gives the same
 * value or the same error (message, code, exit code) as parseMachineConfig.
 */

const KEY = `fleet-1:${Buffer.alloc(32, 3).toString("base64")}`;
const KEY2 = `cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=`;
const FULL = `host = "web1"
remote = "https://example.org/fleet.git"
tagPrefix = "release-"
substituters = ["https://cache.example.org", "file:///var/cache/oscd"]
trustedPublicKeys = ["${KEY}", "${KEY2}"]
trustRoot = "/etc/oscd/trust-root.json"
allowedSignersPath = "/etc/oscd/allowed_signers"
gpgPublicKeyPaths = ["/etc/oscd/a.asc", "/etc/oscd/b.asc"]
requireSignedHistory = true

[health]
systemdUnits = false
retries = 2
timeoutSeconds = 10
retryDelaySeconds = 0.5
commands = [["true"], ["systemctl", "is-active", "nginx"]]
http = [{ url = "http://localhost:8080/health", contains = "ok" }, { url = "https://web1.example.org/", status = 204 }]

[retention]
keepGenerations = 10
keepDays = 30
maxFreedMiB = 4096
`;
const FIXTURES = [
  "",
  FULL,
  `substituters = ["file:///tmp/cache"]\ntrustedPublicKeys = ["${KEY}"]\nhealth = { systemdUnits = false }\n`,
  `host = "db3"\nretention = { keepGenerations = 3, collectGarbage = true }\n`,
];
const EXTRAS = [
  "__proto__ = 1",
  'host = "toString"',
  'host = "a\\nb"',
  'trustedPublicKeys = ["k:AAAA"]',
  'trustedPublicKeys = ["nocolon"]',
  "health.timeoutSeconds = 0",
  "health.retries = 1.5",
  "health.retryDelaySeconds = inf",
  "health.retryDelaySeconds = nan",
  'health.http = [{ url = "not a url" }]',
  "health.http = [{ url = \"http://x\", status = 99 }]",
  "health.commands = [[]]",
  "retention.keepGenerations = 0",
  "retention.keepDays = 36501",
  'trustRoot = "relative/root.json"',
  'allowedSignersPath = "signers"',
  "requireSignedHistory = true",
  "tagPrefix = 1",
  "[health.extra]",
  "hots = 1",
];

/** machineSchema's answer for a file: the value, or the error message and code. */
function byZod(text: string): { value?: unknown; error?: string; code?: string } {
  try {
    return { value: parseMachineConfig(text, "/etc/oscd/machine.toml") };
  } catch (e) {
    if (!(e instanceof FleetConfigError)) throw e;
    return { error: e.message, code: e.code };
  }
}

describe("machine.toml's plain check", () => {
  const inputs = [...FIXTURES, ...mutants(7101, 3000, FIXTURES, EXTRAS, retypeTomlLine)];

  it("accepts only what machineSchema accepts, with the same value in the same order (3000 mutated files, seed 7101)", () => {
    let taken = 0;
    let refusedByZod = 0;
    for (const text of inputs) {
      let raw: unknown;
      try {
        raw = parseTomlFile(text, "machine.toml");
      } catch {
        continue; // not TOML: both paths share the TOML reading
      }
      const plain = plainMachineConfig(raw);
      const zod = machineSchema.safeParse(raw);
      if (!zod.success) refusedByZod++;
      if (plain === undefined) continue;
      taken++;
      expect(zod.success, text).toBe(true);
      expect(JSON.stringify(plain), text).toBe(JSON.stringify(zod.data));
      expect(plain, text).toEqual(zod.data);
    }
    // Both sides are exercised: most valid files are taken by the plain check, and many mutants are invalid.
    expect(taken).toBeGreaterThan(500);
    expect(refusedByZod).toBeGreaterThan(500);
  });

  it("takes the files oscd's NixOS module and the benches write, so `oscd activate` starts without zod", () => {
    for (const f of FIXTURES) expect(plainMachineConfig(parseTomlFile(f, "machine.toml")), f).toBeDefined();
  });

  it.each(EXTRAS)("is unsure of %j, which machineSchema decides", (line) => {
    const text = line.startsWith("health.") ? `[health]\n${line.slice(7)}\n` : line.startsWith("retention.") ? `[retention]\n${line.slice(10)}\n` : `${line}\n`;
    let raw: unknown;
    try {
      raw = parseTomlFile(text, "machine.toml");
    } catch {
      return; // refused before either check (a __proto__ key)
    }
    expect(plainMachineConfig(raw)).toBeUndefined();
  });

  describe("loadMachineConfig, the plain check first", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "oscd-machine-check-"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("gives the value or the error (message, code, exit code) machineSchema gives, for 400 of the mutated files", async () => {
      const file = join(dir, "machine.toml");
      let errors = 0;
      for (const text of inputs.slice(0, 400)) {
        await writeFile(file, text);
        const want = byZod(text);
        const got = await loadMachineConfig(file).then(
          (value) => ({ value }),
          (e: unknown) => {
            if (!(e instanceof FleetConfigError)) throw e;
            expect(e.exitCode).toBe(2);
            return { error: e.message.replace(file, "/etc/oscd/machine.toml"), code: e.code };
          },
        );
        if ("error" in got) errors++;
        expect(got, text).toEqual(want);
      }
      expect(errors).toBeGreaterThan(50);
    });
  });
});

describe("fullHealth", () => {
  it.each([
    ["nothing", undefined],
    ["an empty table", {}],
    ["some fields", { systemdUnits: false, retries: 0 }],
    ["every field", { systemdUnits: true, commands: [["true"]], http: [{ url: "http://x/", status: 200 }], timeoutSeconds: 5, retries: 1, retryDelaySeconds: 0 }],
  ])("is healthSchema's parse of %s", (_what, h) => {
    expect(fullHealth(h)).toEqual(healthSchema.parse(h ?? {}));
    expect(JSON.stringify(fullHealth(h))).toBe(JSON.stringify(healthSchema.parse(h ?? {})));
  });
});
