import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findNix, nixConfig, pathInfo } from "../../../src/nix/index.js";
import { updateFlakeLock } from "../../../src/update/flake-lock.js";

/*
 * The command oscd runs is chosen by the Nix it finds: stand-in `nix` programs that print a
 * release's `--version`, record their arguments and answer in that release's shape.
 */
let dir: string;
const FIXTURES = join(import.meta.dirname, "fixtures/path-info");
const P = "/nix/store/08m919ny793w4m8ljyrjklgvssimir8h-nixos-system-web1-1.0.0";

async function fakeNix(name: string, versionLine: string, pathInfoFixture: string): Promise<string> {
  const bin = join(dir, name);
  await mkdir(bin, { recursive: true });
  await writeFile(
    join(bin, "nix"),
    `#!/bin/sh
for a in "$@"; do if [ "$a" = --version ]; then echo x >> "${bin}/versions"; echo "${versionLine}"; exit 0; fi; done
printf '%s\\n' "$@" > "${bin}/argv"
for a in "$@"; do
  case "$a" in
    path-info) cat "${join(FIXTURES, `${pathInfoFixture}.json`)}"; exit 0 ;;
    show-config|config) echo '{"system":{"value":"x86_64-linux"}}'; exit 0 ;;
    update|lock) exit 0 ;;
  esac
done
exit 0
`,
  );
  await chmod(join(bin, "nix"), 0o755);
  return bin;
}

const argv = async (bin: string) => (await readFile(join(bin, "argv"), "utf8")).trimEnd().split("\n");
const env = (bin: string) => ({ PATH: `${bin}:/usr/bin:/bin` });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-nix-choice-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("commands chosen by the Nix found", () => {
  it("asks each Nix binary its version once, and another binary again", async () => {
    const a = await fakeNix("a", "nix (Nix) 2.24.14", "nix-2.19-object");
    const b = await fakeNix("b", "nix (Lix, like Nix) 2.93.2", "lix-2.93-array");
    expect((await findNix({ env: env(a) })).version).toMatchObject({ flavour: "nix", text: "2.24.14" });
    expect((await findNix({ env: env(a) })).path).toBe(join(a, "nix"));
    expect((await findNix({ env: env(b) })).version).toMatchObject({ flavour: "lix", text: "2.93.2" });
    await findNix({ env: env(a) });
    expect((await readFile(join(a, "versions"), "utf8")).trim().split("\n")).toHaveLength(1);
  });

  it("path-info: --json-format 2 from Nix 2.33, none before and on Lix; each answer read in its shape", async () => {
    const cases: [string, string, string, boolean][] = [
      ["n28", "nix (Nix) 2.8.0", "nix-2.8-array", false],
      ["n224", "nix (Nix) 2.24.14", "nix-2.19-object", false],
      ["n235", "nix (Nix) 2.35.2", "nix-2.33-format-2", true],
      ["det", "nix (Determinate Nix 3.15.1) 2.33.1", "nix-2.33-format-2", true],
      ["lix", "nix (Lix, like Nix) 2.93.2", "lix-2.93-array", false],
    ];
    for (const [name, version, fixture, flag] of cases) {
      const bin = await fakeNix(name, version, fixture);
      const infos = await pathInfo([P], { env: env(bin) });
      expect(infos.find((i) => i.path === P)?.valid, name).toBe(true);
      const args = await argv(bin);
      expect(args.includes("--json-format"), name).toBe(flag);
      if (flag) expect(args[args.indexOf("--json-format") + 1]).toBe("2");
    }
  });

  it("config show from Nix 2.20 and on Lix, show-config before", async () => {
    for (const [name, version, words] of [
      ["c28", "nix (Nix) 2.8.0", ["show-config", "--json"]],
      ["c219", "nix (Nix) 2.19.3", ["show-config", "--json"]],
      ["c220", "nix (Nix) 2.20.0", ["config", "show", "--json"]],
      ["clix", "nix (Lix, like Nix) 2.90.0", ["config", "show", "--json"]],
    ] as const) {
      const bin = await fakeNix(name, version, "nix-2.8-array");
      expect((await nixConfig({ env: env(bin) }))?.get("system")).toBe("x86_64-linux");
      const args = await argv(bin);
      expect(args.slice(-words.length), name).toEqual([...words]);
    }
  });

  it("flake inputs updated with `flake update NAME --flake` from 2.19 and on Lix, `flake lock --update-input` before", async () => {
    const flake = join(dir, "flake");
    await mkdir(flake, { recursive: true });
    await writeFile(join(flake, "flake.lock"), "{}");
    for (const [name, version, tail] of [
      ["f28", "nix (Nix) 2.8.0", ["flake", "lock", "--update-input", "nixpkgs", `path:${flake}`]],
      ["f219", "nix (Nix) 2.19.0", ["flake", "update", "nixpkgs", "--flake", `path:${flake}`]],
      ["flix", "nix (Lix, like Nix) 2.91.1", ["flake", "update", "nixpkgs", "--flake", `path:${flake}`]],
    ] as const) {
      const bin = await fakeNix(name, version, "nix-2.8-array");
      await updateFlakeLock(flake, ["nixpkgs"], { env: env(bin) });
      expect((await argv(bin)).slice(-tail.length), name).toEqual([...tail]);
    }
  });
});
