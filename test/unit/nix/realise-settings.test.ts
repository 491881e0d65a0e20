import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realise } from "../../../src/nix/realise.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-realise-settings-"));
  // A stand-in nix-store that records the arguments it was given.
  await writeFile(join(dir, "nix-store"), `#!/bin/sh\nprintf '%s\\n' "$@" > "${join(dir, "argv")}"\n`);
  await chmod(join(dir, "nix-store"), 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The value Nix ends up with for a setting: the last `--option NAME VALUE` wins. */
function effective(argv: string[], name: string): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < argv.length - 2; i++) if (argv[i] === "--option" && argv[i + 1] === name) v = argv[i + 2];
  return v;
}

describe("realise keeps signature checks on", () => {
  it("a caller's settings cannot turn require-sigs off", async () => {
    const path = "/nix/store/00000000000000000000000000000000-nixos-system-web1-1.0.0";
    for (const value of ["false", "0", "true"]) {
      await realise(path, {
        rootName: "pending-test",
        rootDir: join(dir, "roots"),
        settings: { "require-sigs": value },
        env: { PATH: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}` },
      });
      const argv = (await readFile(join(dir, "argv"), "utf8")).trimEnd().split("\n");
      expect(effective(argv, "require-sigs")).toBe("true");
      expect(argv.filter((a) => a === "require-sigs")).toHaveLength(1);
    }
  });
});
