import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { linksAreRoots, PROFILES_DIR, setProfile, SYSTEM_PROFILE } from "../../../src/nix/index.js";
import { assertProfileLeadsTo, setProfileLinks } from "../../../src/nix/profile-links.js";

/**
 * The engine makes the system profile's links itself (nix/profile-links.ts) instead of running
 * `nix-env --set`: the same sequence of systems must leave the same links as nix-env does.
 * Real store paths (nix-store --add), real nix-env beside it.
 */
let dir: string;
const paths: string[] = [];

/** The profile's links: each generation's number and target, and what the profile points at. */
function links(profile: string): { generations: Record<string, string>; current: string } {
  const pattern = new RegExp(`^${basename(profile)}-(\\d+)-link$`);
  const generations: Record<string, string> = {};
  for (const e of readdirSync(dirname(profile))) {
    const m = pattern.exec(e);
    if (m) generations[m[1] as string] = readlinkSync(join(dirname(profile), e));
  }
  return { generations, current: readlinkSync(profile) };
}

/** A fresh directory for one profile, named `system`. */
function profileIn(name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return join(d, "system");
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "oscd-profile-links-"));
  for (const n of ["a", "b", "c"]) {
    const f = join(dir, `sys-${n}`);
    writeFileSync(f, `system ${n} ${Date.now()} ${Math.random()}\n`);
    const r = await run("nix-store", ["--add", f], { timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new Error(`nix-store --add: ${r.stderr}`);
    paths.push(r.stdout.trim());
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the system profile's links without nix-env", () => {
  it("are the same generations and profile link as nix-env --set makes, a repeated system included", async () => {
    const [a, b, c] = paths as [string, string, string];
    const viaNix = profileIn("nix");
    const viaOscd = profileIn("oscd");
    // b twice in a row: nix-env makes no new generation when the newest one is that system.
    for (const p of [a, b, b, c, a]) {
      const r = await run("nix-env", ["-p", viaNix, "--set", p], { timeoutMs: 60_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      setProfileLinks(p, viaOscd);
      expect(links(viaOscd)).toEqual(links(viaNix));
    }
    expect(links(viaOscd)).toEqual({ generations: { "1": a, "2": b, "3": c, "4": a }, current: "system-4-link" });
  });

  it("keeps a generation another tool made and takes the number after it", () => {
    const [a, b, c] = paths as [string, string, string];
    const profile = profileIn("other-tool");
    setProfileLinks(a, profile);
    symlinkSync(b, join(dirname(profile), "system-2-link"));
    setProfileLinks(c, profile);
    expect(links(profile)).toEqual({ generations: { "1": a, "2": b, "3": c }, current: "system-3-link" });
  });

  it("refuses a store path that is not there, leaving the profile as it was", () => {
    const [a] = paths as [string];
    const profile = profileIn("missing");
    setProfileLinks(a, profile);
    const before = links(profile);
    expect(() => setProfileLinks("/nix/store/00000000000000000000000000000000-not-there", profile)).toThrow(/is not in the store/);
    expect(links(profile)).toEqual(before);
    expect(readdirSync(dirname(profile)).sort()).toEqual(["system", "system-1-link"]);
  });

  it("reads the profile back: a generation another tool replaced at the same moment is an error naming what it now leads to", () => {
    const [a, b] = paths as [string, string];
    const profile = profileIn("raced");
    setProfileLinks(a, profile);
    expect(() => assertProfileLeadsTo(profile, "system-1-link", a)).not.toThrow();
    // As nix-env's addPermRoot would leave it: the same generation name, its own system behind it.
    rmSync(join(dirname(profile), "system-1-link"));
    symlinkSync(b, join(dirname(profile), "system-1-link"));
    expect(() => assertProfileLeadsTo(profile, "system-1-link", a)).toThrow(`another tool changed it at the same moment (it now leads to ${b})`);
    expect(() => assertProfileLeadsTo(profile, "system-2-link", a)).toThrow(/another tool changed it/);
  });

  it("are made for profiles under Nix's profiles directory only; nix-env makes any other, or with a caller's own Nix environment", async () => {
    expect(linksAreRoots(SYSTEM_PROFILE)).toBe(true);
    expect(linksAreRoots(`${PROFILES_DIR}/per-user/root/profile`)).toBe(true);
    expect(linksAreRoots(join(dir, "system"))).toBe(false);
    expect(linksAreRoots(`${PROFILES_DIR}/../profiles-elsewhere/system`)).toBe(false);
    expect(linksAreRoots(SYSTEM_PROFILE, { settings: { store: "/mnt" } })).toBe(false);
    expect(linksAreRoots(SYSTEM_PROFILE, { env: { NIX_STATE_DIR: "/mnt/nix/var/nix" } })).toBe(false);
    const [a] = paths as [string];
    const profile = profileIn("elsewhere");
    await setProfile(a, profile);
    expect(links(profile)).toEqual({ generations: { "1": a }, current: "system-1-link" });
  });
});
