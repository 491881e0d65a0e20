import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { scanErrorCodes } from "../../../scripts/docs/error-codes.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const FIXTURES = resolve(import.meta.dirname, "fixtures");

/** The codes docs/troubleshooting.md documents: the first cell of its table rows. */
async function documentedCodes(): Promise<string[]> {
  const page = await readFile(resolve(ROOT, "docs/troubleshooting.md"), "utf8");
  return [...page.matchAll(/^\| `([a-z][a-z0-9-]*)` \|/gm)].map((m) => m[1]!);
}

describe("docs/troubleshooting.md", () => {
  it("lists exactly the error codes the source can emit: none missing, none stale, none twice", async () => {
    const { codes, unresolved } = scanErrorCodes();
    expect(unresolved).toEqual([]);
    const documented = await documentedCodes();
    const missing = [...codes.keys()].filter((c) => !documented.includes(c)).map((c) => `${c} (${codes.get(c)!.join(", ")})`);
    const stale = documented.filter((c) => !codes.has(c));
    expect(missing, "codes the source emits that the page lacks").toEqual([]);
    expect(stale, "codes on the page no source emits").toEqual([]);
    expect(documented.filter((c, i) => documented.indexOf(c) !== i), "codes listed twice").toEqual([]);
    // Sanity: the scan sees the kinds of codes the page is about.
    for (const c of ["usage", "internal", "busy", "tool-missing", "manifest-expired", "unauthorized", "skipped"]) expect(codes.has(c), c).toBe(true);
  }, 240_000);

  it("the scanner follows every way a code is passed, and reports what it cannot follow", () => {
    const found = scanErrorCodes(resolve(FIXTURES, "scan"));
    expect(found.unresolved).toEqual([]);
    expect([...found.codes.keys()].sort()).toEqual(
      ["fx-const", "fx-data", "fx-else", "fx-fixed", "fx-forwarded", "fx-literal", "fx-then", "fx-union-a", "fx-union-b", "fx-usage-default", "fx-usage-given"].sort(),
    );
    const bad = scanErrorCodes(resolve(FIXTURES, "scan-unresolved"));
    expect(bad.unresolved).toHaveLength(1);
    expect(bad.unresolved[0]).toMatch(/uses\.ts:5: process\.env\.SOME_CODE/);
    expect([...bad.codes.keys()]).toEqual(["fx-fallback"]);
  }, 240_000);
});
