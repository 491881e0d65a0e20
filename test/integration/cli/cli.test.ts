import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { parsePublicKey, parseSecretKey, publicKeyOf, formatPublicKey } from "../../../src/nix/index.js";
import { ensureBuilt, tempDir } from "../../harness/index.js";

const root = join(import.meta.dirname, "..", "..", "..");
const bin = join(root, "bin", "oscd.js");
let dir: string;

beforeAll(async () => {
  dir = await tempDir("cli");
  // The CLI is tested as users get it: from the built package (built once for the run).
  await ensureBuilt();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function oscd(args: string[], cwd = dir) {
  return run("node", [bin, ...args], { timeoutMs: 30_000, cwd });
}

describe("oscd CLI", () => {
  it("prints its version from package.json, also through npx in the checkout", async () => {
    const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { version: string };
    expect((await oscd(["--version"])).stdout.trim()).toBe(pkg.version);
    const viaNpx = await run("npx", ["--no-install", "oscd", "--version"], { timeoutMs: 60_000, cwd: root });
    expect(viaNpx.stdout.trim()).toBe(pkg.version);
  });

  it("has --help with examples and the exit codes", async () => {
    const r = await oscd(["--help"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/Examples:/);
    expect(r.stdout).toMatch(/Exit codes: 0 done, 1 failed, 2 bad usage/);
    const k = await oscd(["keys", "generate", "--help"]);
    expect(k.stdout).toMatch(/oscd keys generate fleet-1/);
  });

  it("exits 2 on an unknown command", async () => {
    const r = await oscd(["frobnicate"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it("generates a key pair: secret 0600, public key matching, never overwritten", async () => {
    const r = await oscd(["keys", "generate", "fleet-1", "--json"]);
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as { secretFile: string; publicFile: string; publicKey: string };
    const sk = parseSecretKey(await readFile(out.secretFile, "utf8"));
    expect(formatPublicKey(publicKeyOf(sk))).toBe(out.publicKey);
    expect(formatPublicKey(parsePublicKey(await readFile(out.publicFile, "utf8")))).toBe(out.publicKey);
    expect((await stat(out.secretFile)).mode & 0o777).toBe(0o600);
    const again = await oscd(["keys", "generate", "fleet-1"]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/^oscd: error\[key-exists\]: .*fleet-1.secret already exists/);
    expect(again.stderr).toMatch(/\nhint: /);
    expect(parseSecretKey(await readFile(out.secretFile, "utf8")).seed.equals(sk.seed)).toBe(true);
    const pub = await oscd(["keys", "public", out.secretFile]);
    expect(pub.stdout.trim()).toBe(out.publicKey);
  });

  it("names a missing or malformed key file", async () => {
    const missing = await oscd(["keys", "public", join(dir, "nope")]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/error\[key-missing\]: cannot read secret key file .*nope: ENOENT/);
  });
});
