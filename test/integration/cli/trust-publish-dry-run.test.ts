import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DryRunPlan } from "../../../src/core/dry-run.js";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import { tempDir } from "../../harness/index.js";
import { json, oscd } from "../builder/helpers.js";

/**
 * `oscd trust publish --dry-run`: every document is verified against the directory (and
 * against the documents before it in the same run), and nothing is written; the plan names
 * the files the real publish then writes.
 */
let dir: string;
const files: Record<string, string> = {};

beforeAll(async () => {
  dir = await tempDir("trust-dry");
  await mkdir(join(dir, "keys"));
  for (const n of ["root-1", "release-1", "release-2", "cache-1"]) {
    const k = generateSecretKey(n);
    files[`${n}.secret`] = join(dir, "keys", `${n}.secret`);
    files[`${n}.public`] = join(dir, "keys", `${n}.public`);
    await writeFile(files[`${n}.secret`]!, formatSecretKey(k), { mode: 0o600 });
    await writeFile(files[`${n}.public`]!, formatPublicKey(publicKeyOf(k)) + "\n");
  }
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function must(args: string[]): Promise<string> {
  const r = await oscd(args);
  expect(r.exitCode, `oscd ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Every file of a directory with its content. */
const contents = async (d: string) => Promise.all((await readdir(d).catch(() => [])).sort().map(async (n) => [n, await readFile(join(d, n), "utf8")]));

describe("oscd trust publish --dry-run", () => {
  it("verifies versions 1 and 2 in order, writes nothing, and names the files the real publish writes", async () => {
    const v = (n: number) => join(dir, `${n}.root.json`);
    await must(["trust", "init", "-o", v(1), "--root-key", files["root-1.public"]!, "--release-key", files["release-1.public"]!, "--cache-key", files["cache-1.public"]!, "--sign-key", files["root-1.secret"]!]);
    await must(["trust", "rotate", v(1), "-o", v(2), "--add-release-key", files["release-2.public"]!, "--remove-release-key", "release-1", "--sign-key", files["root-1.secret"]!]);
    const to = join(dir, "www", "trust");
    const plan = json<DryRunPlan>(await oscd(["trust", "publish", v(1), v(2), "--to", to, "--dry-run", "--json"]));
    expect(plan.steps).toEqual([
      { action: "write", target: join(to, "1.root.json"), detail: `from ${v(1)}` },
      { action: "write", target: join(to, "root.json"), detail: `from ${v(1)}` },
      { action: "write", target: join(to, "2.root.json"), detail: `from ${v(2)}` },
      { action: "write", target: join(to, "root.json"), detail: `from ${v(2)}` },
    ]);
    expect(await contents(join(dir, "www"))).toEqual([]);
    // Version 2 alone is refused as a real run refuses it: version 1 is not there.
    const alone = await oscd(["trust", "publish", v(2), "--to", to, "--dry-run"]);
    expect(alone.exitCode).toBe(2);
    expect(alone.stderr).toMatch(/1\.root\.json is missing: machines walk every version/);

    expect(await must(["trust", "publish", v(1), v(2), "--to", to])).toMatch(/2\.root\.json: written/);
    const after = await contents(to);
    expect(after.map(([n]) => n)).toEqual(["1.root.json", "2.root.json", "root.json"]);
    // Publishing again: the dry run says nothing would be written, and nothing changes.
    const again = await oscd(["trust", "publish", v(1), v(2), "--to", to, "--dry-run"]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/a real run would change nothing/);
    expect(await contents(to)).toEqual(after);
  });
});
