import { beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { OSCD_BIN, ensureBuilt } from "../../harness/oscd.js";

beforeAll(async () => {
  await ensureBuilt();
});

async function oscd(args: string[]) {
  return run("node", [OSCD_BIN, ...args], { timeoutMs: 30_000 });
}

/** Usage errors print the contract's two lines (DESIGN.md) and exit 2, whatever commander found. */
describe("usage errors", () => {
  const cases: [string[], RegExp, RegExp][] = [
    [["upgrade", "--tag"], /option '--tag <tag>' argument missing/, /oscd upgrade --help/],
    [["upgrade", "a", "b"], /too many arguments for 'upgrade'/, /oscd upgrade --help/],
    [["upgrade", "--no-such-flag"], /unknown option '--no-such-flag'/, /oscd upgrade --help/],
    [["frobnicate"], /unknown command 'frobnicate'/, /oscd --help/],
    [["keys"], /'oscd keys' needs a subcommand: generate, public/, /oscd keys --help/],
    [["keys", "generate"], /missing required argument 'name'/, /oscd keys generate --help/],
    [["activate", "--mode", "sideways", "/nix/store/00000000000000000000000000000000-x"], /sideways/, /oscd activate --help/],
  ];
  for (const [args, message, hint] of cases) {
    it(`oscd ${args.join(" ")}`, async () => {
      const r = await oscd(args);
      expect(r.exitCode).toBe(2);
      const lines = r.stderr.split("\n");
      expect(lines, r.stderr).toHaveLength(3);
      expect(lines[0]).toMatch(/^oscd: error\[[a-z-]+\]: /);
      expect(lines[0]).toMatch(message);
      expect(lines[1]).toMatch(/^hint: /);
      expect(lines[1]).toMatch(hint);
      expect(lines[2]).toBe("");
      expect(r.stdout).toBe("");
    });
  }

  it("--help and --version are not errors", async () => {
    for (const args of [["--help"], ["upgrade", "--help"], ["--version"], ["help", "status"]]) {
      const r = await oscd(args);
      expect(r.exitCode, args.join(" ")).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).not.toBe("");
    }
  });
});
