import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/core/exec.js";
import { NEWER_NIX, NEWER_NIX_VERSION, oscdOn, SimHost, ensureBuilt, OSCD_BIN } from "../harness/index.js";

/**
 * Which Nix oscd finds, as `oscd --version --verbose` and `oscd status` say, on the test machine,
 * in a simulated host and over SSH to it. Under OSCD_TEST_NIX=newer (scripts/test.sh's second
 * run) that is the harness's wrapper presenting a newer Nix everywhere; this proves the wrapper
 * is in effect where the other e2e tests of that run need it.
 */
let h: SimHost;
let realVersion: string;
beforeAll(async () => {
  await ensureBuilt();
  h = await SimHost.create({ name: "nixfound", sshd: true });
  realVersion = /\d+\.\d+(?:\.\d+)?/.exec((await run("/usr/bin/nix", ["--version"], { timeoutMs: 30_000 })).stdout)?.[0] ?? "?";
});
afterAll(async () => {
  await h?.destroy();
});

const expected = () => (NEWER_NIX ? NEWER_NIX_VERSION : realVersion);

describe("the Nix oscd finds", () => {
  it("oscd --version --verbose names oscd, Node and the Nix found, with its path", async () => {
    const r = await run("node", [OSCD_BIN, "--version", "--verbose"], { timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^oscd \d+\.\d+\.\d+\nnode \d+\.\d+\.\d+ at \/\S+\n/);
    expect(r.stdout).toMatch(new RegExp(`^nix  Nix ${expected().replace(/\./g, "\\.")}(\\.0)? at \\S+/nix`, "m"));
    expect(r.stdout.includes("/oscd-nix-newer-")).toBe(NEWER_NIX);
    expect(r.stdout).toMatch(/supported: Nix 2\.8 through 2\.35, Lix 2\.90 and later/);
  });

  it("oscd status in a host says which Nix it runs, in text and JSON", async () => {
    const text = await oscdOn(h, ["status"]);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^nix\\s+Nix ${expected().replace(/\./g, "\\.")}`, "m"));
    const json = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { nix: { flavour: string; version: string; path: string } };
    expect(json.nix).toMatchObject({ flavour: "nix" });
    expect(json.nix.version.startsWith(expected())).toBe(true);
    expect(json.nix.path.includes("/oscd-nix-newer-")).toBe(NEWER_NIX);
  });

  it("over SSH to the host, the same Nix answers", async () => {
    const s = await h.ssh();
    const r = await run("ssh", [...s.args, s.target, "nix --version; nix-store --version"], { timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`nix (Nix) ${expected()}`);
    expect(r.stdout).toContain(`nix-store (Nix) ${expected()}`);
  });
});
