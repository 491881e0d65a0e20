import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../../src/cli/main.js";

/** `oscd keys generate` as the CLI runs it (in-process): what it prints and what it leaves. */
let dir: string;
let cwd: string;
let stderr: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-keys-cli-"));
  cwd = process.cwd();
  process.chdir(dir);
  stderr = "";
  vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  process.exitCode = undefined;
});
afterEach(async () => {
  vi.restoreAllMocks();
  process.chdir(cwd);
  process.exitCode = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function oscd(...args: string[]): Promise<number | string | null | undefined> {
  await main(["node", "oscd", ...args]);
  return process.exitCode;
}

describe("oscd keys generate: bad input is a typed error before anything is written (issue 9)", () => {
  it("refuses a 300-character key name (it would crash writing <name>.secret)", async () => {
    expect(await oscd("keys", "generate", "k".repeat(300))).toBe(2);
    expect(stderr).toMatch(/^oscd: error\[key-format\]: invalid key name "k+…": it is longer than 128 characters\nhint: /);
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses a name with ':' (Nix splits keys at the first ':')", async () => {
    expect(await oscd("keys", "generate", "fleet:1")).toBe(2);
    expect(stderr).toMatch(/^oscd: error\[key-format\]/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses --secret-file in a missing directory and writes no public key either", async () => {
    expect(await oscd("keys", "generate", "fleet-1", "--secret-file", join(dir, "missing", "fleet-1.secret"))).toBe(2);
    expect(stderr).toMatch(/^oscd: error\[key-write\]: cannot write key file .*missing\/fleet-1\.secret: the directory .*missing does not exist\n/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("still writes a key pair for good input", async () => {
    expect(await oscd("keys", "generate", "fleet-1")).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(["fleet-1.public", "fleet-1.secret"]);
  });
});
