import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSecretKey, generateSecretKey } from "../../src/nix/index.js";
import { FleetRepo, tempDir, uniqueMarker } from "../harness/index.js";
import { oscd } from "../integration/builder/helpers.js";

/**
 * What a NixOS user debugs with, against real Nix: a typo in a host's file is reported with
 * Nix's whole message (the .nix file and line), -L streams a build's log named for its host,
 * --show-trace and --option reach Nix, and -v shows every command oscd ran, never a secret.
 */
let dir: string;
let fleet: FleetRepo;
const rootDir = "/nix/var/nix/gcroots/oscd-tests-e2e-cli-nix";

beforeAll(async () => {
  dir = await tempDir("e2e-cli-nix");
  const m = uniqueMarker();
  fleet = await FleetRepo.create({ hosts: ["web1", "web2"].map((name) => ({ name, marker: m })) });
});

afterAll(async () => {
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

function build(...extra: string[]) {
  return oscd(["build", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, ...extra]);
}

describe("Nix's messages reach the user whole", () => {
  it("a typo in a host's file names the .nix file and line, after oscd's one-line summary and before the hint", async () => {
    const good = await fleet.head();
    await fleet.commitFile("hosts/web2.nix", `{\n  hostname = "web2";\n  marker = services.ngnix;\n}\n`, "web2: a typo");
    try {
      const r = await build("--eval-only");
      expect(r.exitCode, r.stderr).toBe(1);
      const lines = r.stderr.trimEnd().split("\n");
      const at = lines.findIndex((l) => l.startsWith("oscd: error[hosts-failed]: 1 of 2 host(s) failed: web2"));
      expect(at, r.stderr).toBeGreaterThanOrEqual(0);
      const detail = lines.slice(at + 1, -1).join("\n");
      expect(detail).toContain("error: undefined variable 'services'");
      expect(detail).toMatch(/at \/nix\/store\/[0-9a-z]{32}-source\/hosts\/web2\.nix:3:\d+:/);
      expect(detail).toContain("3|   marker = services.ngnix;");
      expect(lines[lines.length - 1]).toMatch(/^hint: /);
      // web1 was evaluated all the same.
      expect(r.stdout).toMatch(/web1 .* evaluated/);

      const traced = await build("--eval-only", "--on", "web2", "--show-trace");
      expect(traced.exitCode).toBe(1);
      expect(traced.stderr).toContain("while evaluating");
      expect(traced.stderr).not.toContain("use '--show-trace'");
    } finally {
      await fleet.git(["reset", "-q", "--hard", good]);
    }
  });

  it("-L streams a failing build's log named for its host, and the error carries the log's last lines", async () => {
    const good = await fleet.head();
    await fleet.setHost({ name: "web2", failBuild: true, marker: uniqueMarker() }, "web2: breaks");
    try {
      const r = await build("-L", "--option", "cores", "1");
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^web2 +│ log +error: fake build failure of web2$/m);
      const quiet = await build();
      expect(quiet.exitCode).toBe(1);
      expect(quiet.stderr).not.toMatch(/│ log /);
      expect(quiet.stderr).toMatch(/^ +> error: fake build failure of web2$/m);
    } finally {
      await fleet.git(["reset", "-q", "--hard", good]);
    }
  });

  it("-v shows each command with its duration; --option reaches Nix; a signing key's content never shows", async () => {
    const key = generateSecretKey("cli-nix-e2e");
    const keyFile = join(dir, "fleet.secret");
    const secret = formatSecretKey(key);
    await writeFile(keyFile, secret, { mode: 0o600 });
    await fleet.commitFile("oscd.toml", `caches = ["file://${join(dir, "cache")}"]\n`);
    const r = await oscd(["publish", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "-vv", "--option", "cores", "1"], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^\+ git -C \S+ rev-parse .*\(exit 0, \d+(ms|\.\ds)\)$/m);
    expect(r.stderr).toMatch(/^\+ nix --extra-experimental-features 'nix-command flakes' --option cores 1 eval /m);
    expect(r.stderr).toMatch(/^\+ nix-store --option cores 1 --realise /m);
    const keyBody = secret.split(":")[1] as string;
    expect(r.stderr).not.toContain(keyBody);
    expect(r.stdout).not.toContain(keyBody);
  });
});
