import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatPublicKey, formatSecretKey, generateSecretKey, nixBase32, publicKeyOf } from "../../../src/nix/index.js";
import { loadSigningKey, narHashForSigning, trustedKeysFor } from "../../../src/publish/index.js";
import { tempDir } from "../../harness/index.js";

let dir: string;
const key = generateSecretKey("fleet-1");
beforeAll(async () => {
  dir = await tempDir("publish-key");
  await writeFile(join(dir, "fleet.secret"), formatSecretKey(key), { mode: 0o600 });
  await writeFile(join(dir, "public-as-secret"), formatPublicKey(publicKeyOf(key)));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<{ code: string; exitCode: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; exitCode: number; message: string };
  }
  throw new Error("expected a failure");
}

describe("signing key", () => {
  it("comes from --key, else OSCD_SIGNING_KEY_FILE", async () => {
    expect((await loadSigningKey(join(dir, "fleet.secret"), {})).public.name).toBe("fleet-1");
    const k = await loadSigningKey(undefined, { OSCD_SIGNING_KEY_FILE: join(dir, "fleet.secret") });
    expect(formatPublicKey(k.public)).toBe(formatPublicKey(publicKeyOf(key)));
    expect(k.file).toBe(join(dir, "fleet.secret"));
  });

  it("refuses a missing key, a missing file, a key given inline and a malformed key with exit 2", async () => {
    expect(await failure(loadSigningKey(undefined, {}))).toMatchObject({ code: "key-missing", exitCode: 2 });
    expect(await failure(loadSigningKey(join(dir, "nope"), {}))).toMatchObject({ code: "key-missing", exitCode: 2, message: expect.stringMatching(/ENOENT/) });
    const inline = await failure(loadSigningKey(formatSecretKey(key), {}));
    expect(inline).toMatchObject({ code: "key-inline", exitCode: 2 });
    expect(inline.message).not.toContain(formatSecretKey(key).split(":")[1]);
    expect(await failure(loadSigningKey(join(dir, "public-as-secret"), {}))).toMatchObject({ code: "key-format", exitCode: 2 });
  });

  it("must be one of the fleet's trusted keys when the fleet lists some", async () => {
    const k = await loadSigningKey(join(dir, "fleet.secret"), {});
    const other = formatPublicKey(publicKeyOf(generateSecretKey("fleet-2")));
    expect(trustedKeysFor(k, []).map((p) => p.name)).toEqual(["fleet-1"]);
    expect(trustedKeysFor(k, [other, formatPublicKey(k.public)]).map((p) => p.name)).toEqual(["fleet-2", "fleet-1"]);
    expect(() => trustedKeysFor(k, [other])).toThrow(/the signing key fleet-1 is not one of the fleet's trusted keys \(fleet-2\)/);
    // Same name, other key bytes: still wrong.
    const sameName = formatPublicKey(publicKeyOf(generateSecretKey("fleet-1")));
    expect(() => trustedKeysFor(k, [sameName])).toThrow(/not one of the fleet's trusted keys/);
    try {
      trustedKeysFor(k, [other]);
    } catch (e) {
      expect((e as { exitCode: number; code: string }).exitCode).toBe(2);
      expect((e as { code: string }).code).toBe("key-not-trusted");
    }
  });
});

describe("Nix base-32", () => {
  it("turns the SRI NAR hash of `nix path-info --json` into the narinfo form Nix signs", () => {
    // A pair written by Nix 2.8 for the same path: narinfo NarHash and path-info narHash.
    expect(narHashForSigning("sha256-4FKTnTOFhFjxB8KaaubkbtRc3eGyWI5gt9gtvPBI/Rc=")).toBe("sha256:05zx93qbqbfqnxh8wn5jw7fmrm3fwkk6m6n20zqmi1456ffr6lp0");
    expect(narHashForSigning("sha256:05zx93qbqbfqnxh8wn5jw7fmrm3fwkk6m6n20zqmi1456ffr6lp0")).toBe("sha256:05zx93qbqbfqnxh8wn5jw7fmrm3fwkk6m6n20zqmi1456ffr6lp0");
    expect(() => narHashForSigning("md5-xyz")).toThrow(/unexpected NAR hash/);
    expect(nixBase32(Buffer.alloc(20))).toBe("0".repeat(32));
    expect(nixBase32(Buffer.from([0xff]))).toBe("7z");
  });
});
