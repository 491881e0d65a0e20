import { describe, expect, it } from "vitest";
import { IMPACT_MARKER, impactMarkdown } from "../../../src/cli/system-diff-format.js";
import type { ImpactReport } from "../../../src/inspect/index.js";

const C = "c".repeat(40);

describe("the impact comment", () => {
  it("keeps text from the evaluated code inert: one table row per host, no markup, no mentions", () => {
    const r: ImpactReport = {
      from: { ref: "base", commit: C },
      to: { ref: "head", commit: C },
      hosts: [
        { host: "web1", status: "failed", error: { side: "to", code: "nix-eval-failed", message: "boom | x\n| evil | row |\n<img src=x> @admin [link](http://x)" } },
        {
          host: "db1",
          status: "changed",
          diff: {
            from: "/nix/store/a",
            to: "/nix/store/b",
            changed: true,
            packages: { changed: [{ name: "linux", from: ["6.1.0"], to: ["6.6.0"] }], added: [], removed: [] },
            closureSize: { from: 100, to: 90, difference: -10 },
            reboot: { needed: true, reasons: ["kernel"] },
          },
        },
      ],
    };
    const md = impactMarkdown(r);
    expect(md.startsWith(`${IMPACT_MARKER}\n`)).toBe(true);
    const rows = md.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| host"));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain("boom \\| x \\| evil \\| row \\| \\<img src=x\\> \\@admin \\[link\\](http://x)");
    expect(rows[1]).toBe("| db1 | changed | linux 6.1.0 → 6.6.0 | -10 B | **yes** (kernel) |");
    expect(md).toContain("1 of 2 host(s) change, 1 need a reboot, **1 failed**.");
  });
});
