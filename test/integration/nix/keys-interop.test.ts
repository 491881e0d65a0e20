import { readFile, writeFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import {
  copyTo,
  formatNarInfo,
  formatSecretKey,
  generateSecretKey,
  parseNarInfo,
  parsePublicKey,
  publicKeyOf,
  formatPublicKey,
  readSecretKeyFile,
  signDetached,
  signNarInfo,
  verifyDetached,
  verifyNarInfo,
  signPaths,
  parseStorePath,
} from "../../../src/nix/index.js";
import { buildFakeToplevel, tempDir, uniqueMarker, must } from "../../harness/index.js";
import { rm } from "node:fs/promises";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("keys");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Real Nix's verdict on a path in a file cache, trusting only `publicKey`. */
async function nixVerify(cache: string, path: string, publicKey: string): Promise<{ ok: boolean; stderr: string }> {
  const r = await run("nix", ["--extra-experimental-features", "nix-command", "store", "verify", "--no-contents", "--sigs-needed", "1", "--store", `file://${cache}`, "--option", "trusted-public-keys", publicKey, path], { timeoutMs: 60_000 });
  return { ok: r.exitCode === 0, stderr: r.stderr };
}

describe("Nix-format keys interoperate with real Nix", () => {
  it("a key made by nix-store --generate-binary-cache-key signs in oscd and verifies with its Nix public key", async () => {
    const sk = join(dir, "nix.sec");
    const pk = join(dir, "nix.pub");
    await must("nix-store", ["--generate-binary-cache-key", "nixmade-1", sk, pk]);
    const secret = await readSecretKeyFile(sk);
    const pub = parsePublicKey(await readFile(pk, "utf8"));
    expect(formatPublicKey(publicKeyOf(secret))).toBe(formatPublicKey(pub));
    const sig = signDetached(secret, "release manifest");
    expect(verifyDetached([pub], "release manifest", [sig])).toBe(true);
  });

  it("a narinfo signed by real Nix verifies in oscd with an oscd-made key", async () => {
    const k = generateSecretKey(`oscd-${uniqueMarker()}`);
    const keyFile = join(dir, "oscd-made.sec");
    await writeFile(keyFile, formatSecretKey(k), { mode: 0o600 });
    const path = await buildFakeToplevel({ hostname: "interop", marker: uniqueMarker() });
    const cache = join(dir, "cache-nixsigned");
    await copyTo(`file://${cache}`, [path]);
    await signPaths([path], keyFile, { store: `file://${cache}` });
    const ni = parseNarInfo(await readFile(join(cache, `${parseStorePath(path).hash}.narinfo`), "utf8"));
    expect(ni.sigs.some((s) => s.startsWith(`${k.name}:`))).toBe(true);
    expect(verifyNarInfo(ni, [publicKeyOf(k)])).toBe(true);
  });

  it("a narinfo signed by oscd is accepted by real Nix, and one flipped byte is rejected", async () => {
    const k = generateSecretKey(`oscd-${uniqueMarker()}`);
    const pub = formatPublicKey(publicKeyOf(k));
    const path = await buildFakeToplevel({ hostname: "interop2", marker: uniqueMarker() });
    const cache = join(dir, "cache-oscdsigned");
    await copyTo(`file://${cache}`, [path]);
    const file = join(cache, `${parseStorePath(path).hash}.narinfo`);
    const unsigned = parseNarInfo(await readFile(file, "utf8"));
    expect(unsigned.sigs).toEqual([]);
    expect((await nixVerify(cache, path, pub)).ok).toBe(false);

    const signed = signNarInfo(unsigned, k);
    await writeFile(file, formatNarInfo(signed));
    const good = await nixVerify(cache, path, pub);
    expect(good.stderr).not.toMatch(/untrusted/);
    expect(good.ok).toBe(true);

    const sig = signed.sigs[0] as string;
    const raw = Buffer.from(sig.slice(sig.indexOf(":") + 1), "base64");
    raw[0] = (raw[0] ?? 0) ^ 0x01;
    await writeFile(file, formatNarInfo({ ...signed, sigs: [`${k.name}:${raw.toString("base64")}`] }));
    const bad = await nixVerify(cache, path, pub);
    expect(bad.ok).toBe(false);
    expect(bad.stderr).toMatch(/untrusted/);
  });

  it("real Nix rejects an oscd signature by a key it does not trust", async () => {
    const k = generateSecretKey("signer");
    const other = generateSecretKey("signer");
    const path = await buildFakeToplevel({ hostname: "interop3", marker: uniqueMarker() });
    const cache = join(dir, "cache-wrongkey");
    await copyTo(`file://${cache}`, [path]);
    const file = join(cache, `${parseStorePath(path).hash}.narinfo`);
    await writeFile(file, formatNarInfo(signNarInfo(parseNarInfo(await readFile(file, "utf8")), k)));
    expect((await nixVerify(cache, path, formatPublicKey(publicKeyOf(other)))).ok).toBe(false);
    expect((await readdir(cache)).some((f) => f.endsWith(".narinfo"))).toBe(true);
  });
});
