import { describe, expect, it } from "vitest";
import { expiryOf, fleetCounts, type FleetRow } from "../../../src/server/fleet-view.js";
import { causeOf, rolledBack, shortPaths } from "../../../src/server/reports.js";

const p = (name: string, c = "a") => `/nix/store/${c.repeat(32)}-${name}`;

describe("what a host's failure says, cause first", () => {
  it("a rolled-back deployment: the failing check, then the code, then the systems by name", () => {
    const message = `activation of ${p("nixos-system-db1-1.1.1")} failed and was rolled back to ${p("nixos-system-db1-1.1.0", "b")}: health checks failed after 1 attempt(s): command grep -qx ok /run/fake-nixos/health exited 1`;
    expect(causeOf({ code: "rolled-back", message })).toBe("health checks failed after 1 attempt(s): command grep -qx ok /run/fake-nixos/health exited 1 [rolled-back] (nixos-system-db1-1.1.1 rolled back to nixos-system-db1-1.1.0)");
    expect(rolledBack({ id: "x", code: "rolled-back" })).toBe(true);
    expect(rolledBack({ id: "x", status: "rolled-back" })).toBe(true);
    expect(rolledBack({ id: "x", code: "path-unavailable", outcome: "failed" })).toBe(false);
  });

  it("anything else: its text with the code after it (once), store paths shortened, one line", () => {
    expect(causeOf({ code: "manifest-untrusted", message: "the manifest is not signed by a trusted key" })).toBe("the manifest is not signed by a trusted key [manifest-untrusted]");
    expect(causeOf({ code: "path-unavailable", message: `path-unavailable: ${p("nixos-system-web1")} is in no cache\nsecond line` })).toBe("path-unavailable: nixos-system-web1 is in no cache second line");
    expect(causeOf({ reason: "health check nginx.service failed" })).toBe("health check nginx.service failed");
    expect(causeOf({})).toBe("failed");
    expect(shortPaths(`${p("x-1.0")}/bin/check, ${p("y")}:`)).toBe("x-1.0/bin/check, y:");
  });
});

describe("fleet view helpers", () => {
  const H = 3_600_000;
  it("an expiry is flagged under a quarter of its validity (at least an hour, at most a day) before it passes", () => {
    const created = 0;
    expect(expiryOf(created, null, 10)).toBe("none");
    expect(expiryOf(created, 7 * 24 * H, 6.5 * 24 * H)).toBe("soon"); // half a day left of 7: under a day
    expect(expiryOf(created, 7 * 24 * H, 5 * 24 * H)).toBe("ok");
    expect(expiryOf(created, 2 * H, 1.6 * H)).toBe("soon"); // 24 min left of 2 h: under an hour
    expect(expiryOf(created, 8 * H, 5 * H)).toBe("ok"); // 3 h left of 8 h: more than a quarter
    expect(expiryOf(created, 8 * H, 7 * H)).toBe("soon");
    expect(expiryOf(created, 8 * H, 8 * H)).toBe("expired");
  });

  it("counts hosts per status, unknown statuses as unknown", () => {
    const rows = ["ok", "ok", "rolled-back", "drift", "offline", "weird"].map((status) => ({ status }) as FleetRow);
    expect(fleetCounts(rows)).toEqual({ ok: 2, "rolled-back": 1, failed: 0, drift: 1, offline: 1, deploying: 0, new: 0, unknown: 1 });
  });
});
