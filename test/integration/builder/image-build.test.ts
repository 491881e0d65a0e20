import { chmod, mkdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHosts, buildRootName, pinFleet, type ExtraBuild } from "../../../src/builder/index.js";
import { FleetRepo, tempDir, uniqueMarker } from "../../harness/index.js";

/**
 * The builder's `extra` (what `oscd image` uses): the image is evaluated in the same single
 * `nix eval` as the toplevels and built in the same realise, with a GC root.
 */
let dir: string;
let repo: FleetRepo;
const rootDir = "/nix/var/nix/gcroots/oscd-tests-image-build";

beforeAll(async () => {
  dir = await tempDir("image-build");
  repo = await FleetRepo.create({ hosts: ["i1", "i2"].map((name) => ({ name, marker: uniqueMarker() })) });
});
afterAll(async () => {
  await repo?.destroy();
  await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

const extra: ExtraBuild = {
  expr: (t, root) => `(d ${root}."nixosConfigurations".${JSON.stringify(t.name)}."config"."system"."build"."images"."qcow2")`,
  derivations: (_host, v) => {
    const x = v as { drv: string; out: string; system: string };
    return [{ label: "qcow2 image", drvPath: x.drv, outPath: x.out, system: x.system }];
  },
  unbuildable: () => {
    throw new Error("not expected");
  },
};

describe("buildHosts with extra derivations", () => {
  it("evaluates toplevels and images in one nix eval and builds them together", async () => {
    // A `nix` on PATH that records its subcommand, then runs the real one.
    const log = join(dir, "nix-calls");
    const bin = join(dir, "bin");
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, "nix"), `#!/bin/sh\necho "$*" >> ${log}\nexec /usr/bin/nix "$@"\n`);
    await chmod(join(bin, "nix"), 0o755);
    const p = await pinFleet({ repo: repo.dir, stateDir: join(dir, "state"), rootDir });
    const r = await buildHosts(p, { rootDir, extra, nix: { env: { PATH: `${bin}:${process.env.PATH ?? ""}` } } });
    const calls = (await readFile(log, "utf8")).trim().split("\n");
    // Besides listing the hosts (discovery, as in every build), one evaluation of derivations: toplevels and images together.
    const evals = calls.filter((c) => / eval /.test(` ${c} `) && !c.includes("builtins.attrNames ((builtins.getFlake"));
    expect(evals).toHaveLength(1);
    expect(evals[0]).toContain('"toplevel"');
    expect(evals[0]).toContain('"images"."qcow2"');
    for (const h of r.hosts) {
      expect(h.status).toBe("built");
      const img = h.extra!.derivations[0]!;
      expect(await readFile(join(img.outPath, "nixos.qcow2"), "utf8")).toBe(`fake qcow2 image of ${h.name} version 1.0.0\n`);
      expect(await readlink(join(rootDir, buildRootName("fleet", `${h.name}.extra-0`)))).toBe(img.outPath);
    }
  });
});
