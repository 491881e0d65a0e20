import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { FLEET_DESCRIPTIONS } from "../../../scripts/docs/fleet-descriptions.js";
import { FLEET_PAGE, fleetExample, renderFleetReference } from "../../../scripts/docs/fleet-file.js";
import { parseFleetFile } from "../../../src/fleet/index.js";

describe("docs/fleet-file.md", () => {
  it("is what `npm run docs:fleet` generates from the schema now", async () => {
    expect(await readFile(FLEET_PAGE, "utf8")).toBe(await renderFleetReference());
  });

  it("its example is a valid fleet file", async () => {
    const page = await readFile(FLEET_PAGE, "utf8");
    const fleet = parseFleetFile(fleetExample(page), "example");
    expect(fleet.caches).toEqual(["file:///srv/nix-cache"]);
    expect(Object.keys(fleet.hosts)).toEqual(["web1"]);
  });

  it("refuses a schema key without a description, and a description of no key", async () => {
    const { "hosts.<name>.ssh": _gone, ...missing } = FLEET_DESCRIPTIONS;
    await expect(renderFleetReference(missing)).rejects.toThrow(/no description for hosts\.<name>\.ssh/);
    await expect(renderFleetReference({ ...FLEET_DESCRIPTIONS, "fleet.nope": "x" })).rejects.toThrow(/no such key: fleet\.nope/);
  });
});
