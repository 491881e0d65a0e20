import { describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../../src/core/exec.js";
import { REPO_ROOT } from "../../harness/oscd.js";

/**
 * Node 24 LTS is oscd's runtime (Node 20 reached end of life on 2026-04-30). A fresh machine of
 * this kind has Debian's Node 20 only: scripts/lib/setup.sh fetches the official Node 24 from the
 * npm registry, checks it against the integrity it pins, and puts it first on PATH.
 */
const PATH_WITHOUT_NODE24 = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function setupScript(body: string): string {
  return `set -euo pipefail\ncd "$REPO_ROOT"\n. scripts/lib/setup.sh\n${body}`;
}

describe("Node 24 on a machine whose node is older (scripts/lib/setup.sh)", () => {
  it("the tests themselves run on Node 24 or newer, as package.json's engines demand", async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(">=24");
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(24);
  });

  it("installs the pinned Node 24 with its headers and puts it first on PATH", async () => {
    const base = await mkdtemp(join(tmpdir(), "oscd-node-"));
    try {
      const r = await run("bash", ["-c", setupScript('oscd_install_node\necho "node=$(command -v node) version=$(node --version) nodedir=$npm_config_nodedir"')], {
        timeoutMs: 300_000,
        env: { REPO_ROOT, OSCD_NODE_DIR_BASE: base, PATH: PATH_WITHOUT_NODE24, npm_config_nodedir: undefined },
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const [dir] = await readdir(base);
      expect(dir).toMatch(/^node-v24\.\d+\.\d+-linux-(x64|arm64)$/);
      const home = join(base, dir as string);
      expect(r.stdout).toContain(`node=${home}/bin/node version=v24.`);
      expect(r.stdout).toContain(`nodedir=${home}`);
      // node-gyp builds better-sqlite3 against these headers.
      await expect(readFile(join(home, "include", "node", "node_api.h"), "utf8")).resolves.toContain("napi");
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it("refuses a download that does not match the pinned integrity and installs nothing", async () => {
    const base = await mkdtemp(join(tmpdir(), "oscd-node-"));
    try {
      const r = await run("bash", ["-c", setupScript('for a in "${!OSCD_NODE_INTEGRITY[@]}"; do OSCD_NODE_INTEGRITY[$a]=sha512-AAAA; done\noscd_install_node')], {
        timeoutMs: 300_000,
        env: { REPO_ROOT, OSCD_NODE_DIR_BASE: base, PATH: PATH_WITHOUT_NODE24 },
      });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/^oscd: error\[node-integrity\]: node-linux-(x64|arm64)@24\.[0-9.]+ does not match the integrity pinned in scripts\/lib\/setup\.sh\nhint: /m);
      expect(await readdir(base)).toEqual([]);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
