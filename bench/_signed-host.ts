/** What several benchmarks share: statistics, a timer, and simulated hosts that trust one signed file cache. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../src/nix/index.js";
import { SimHost } from "../test/harness/index.js";

export function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)] ?? 0, min: s[0] ?? 0, max: s[s.length - 1] ?? 0 };
}

/** Milliseconds `f` took; a non-zero exit is an error, not a fast result. */
export async function timed(f: () => Promise<{ exitCode: number | null; stderr: string } | void>): Promise<number> {
  const t = performance.now();
  const r = await f();
  const ms = performance.now() - t;
  if (r && r.exitCode !== 0) throw new Error(r.stderr);
  return ms;
}

export interface SignedCache {
  cache: string;
  keyFile: string;
  publicKey: string;
  /** A host named `name` that substitutes from the cache and trusts only its key; `withOscd` writes its machine.toml. */
  host(name: string, withOscd: boolean): Promise<SimHost>;
}

export async function signedCache(dir: string): Promise<SignedCache> {
  const key = generateSecretKey("bench");
  const keyFile = join(dir, "key");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  const cache = `file://${join(dir, "cache")}`;
  const publicKey = formatPublicKey(publicKeyOf(key));
  return {
    cache,
    keyFile,
    publicKey,
    async host(name, withOscd) {
      const h = await SimHost.create({ name, substituters: [cache], trustedPublicKeys: [publicKey] });
      if (withOscd) {
        await mkdir(h.path("/etc/oscd"), { recursive: true });
        await writeFile(h.path("/etc/oscd/machine.toml"), `substituters = ["${cache}"]\ntrustedPublicKeys = ["${publicKey}"]\nhealth = { systemdUnits = false }\n`);
      }
      return h;
    },
  };
}
