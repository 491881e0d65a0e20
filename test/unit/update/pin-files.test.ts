import { describe, expect, it } from "vitest";
import { formatPins, parsePins, PinFileInvalidError } from "../../../src/builder/index.js";
import { parseFlakeLock, updateMessage } from "../../../src/update/index.js";

const REV = "0123456789abcdef0123456789abcdef01234567";

describe("the classic pin file", () => {
  it("reads url, rev and ref, and writes them back sorted", () => {
    const pins = parsePins(JSON.stringify({ b: { url: "https://example.org/b.git", rev: REV }, a: { url: "file:///srv/a", rev: REV, ref: "release-24.05" } }));
    expect(pins.a).toEqual({ url: "file:///srv/a", rev: REV, ref: "release-24.05" });
    expect(formatPins(pins)).toBe(`{\n  "a": {\n    "url": "file:///srv/a",\n    "rev": "${REV}",\n    "ref": "release-24.05"\n  },\n  "b": {\n    "url": "https://example.org/b.git",\n    "rev": "${REV}"\n  }\n}\n`);
  });

  it.each([
    ["garbage", "{", /not JSON/],
    ["an array", "[]", /top level is not an object/],
    ["an option as URL", JSON.stringify({ a: { url: "--upload-pack=touch /tmp/x", rev: REV } }), /a\.url is not a git URL/],
    ["a short rev", JSON.stringify({ a: { url: "file:///a", rev: "abc" } }), /a\.rev is not a 40-digit commit id/],
    ["an unknown key", JSON.stringify({ a: { url: "file:///a", rev: REV, sha256: "x" } }), /unknown key\(s\) "sha256"/],
    ["a ref with ..", JSON.stringify({ a: { url: "file:///a", rev: REV, ref: "a/../b" } }), /a\.ref is not a branch or tag name/],
    ["__proto__", `{"__proto__": {"url": "file:///a", "rev": "${REV}"}}`, /"__proto__" is not an input name/],
  ])("refuses %s with a one-line reason (exit 2)", (_what, text, reason) => {
    const e = (() => {
      try {
        parsePins(text);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(PinFileInvalidError);
    expect((e as PinFileInvalidError).exitCode).toBe(2);
    expect((e as PinFileInvalidError).message).toMatch(reason);
    expect((e as PinFileInvalidError).message).not.toContain("\n");
  });
});

describe("flake.lock", () => {
  const lock = {
    version: 7,
    root: "root",
    nodes: {
      root: { inputs: { pkgs: "pkgs", nixpkgs: ["pkgs", "nixpkgs"], tarball: "tarball" } },
      pkgs: { locked: { type: "git", url: "file:///srv/pkgs", rev: REV } },
      tarball: { locked: { type: "tarball", narHash: "sha256-AAAA" } },
    },
  };

  it("lists root inputs with their locked revision (or NAR hash), skipping follows", () => {
    expect(parseFlakeLock(JSON.stringify(lock))).toEqual([
      { name: "pkgs", rev: REV, url: "file:///srv/pkgs" },
      { name: "tarball", rev: "sha256-AAAA", url: undefined },
    ]);
  });

  it("refuses a lock edited into garbage before Nix sees it", () => {
    expect(() => parseFlakeLock('{"version": 7, "root": "root", "nodes": {')).toThrow(/flake\.lock is not a valid flake lock: not JSON/);
    expect(() => parseFlakeLock(JSON.stringify({ ...lock, root: "nope" }))).toThrow(/root node "nope" is missing/);
    expect(() => parseFlakeLock(JSON.stringify({ ...lock, nodes: { ...lock.nodes, pkgs: {} } }))).toThrow(/input "pkgs" has no locked node/);
  });

  it("the commit message lists every input's old and new revision", () => {
    const m = updateMessage([{ name: "pkgs", from: REV, to: "f".repeat(40) }], "flake.lock");
    expect(m.split("\n")[0]).toBe("Update pkgs");
    expect(m).toContain(`- pkgs: ${REV} → ${"f".repeat(40)}`);
    expect(m).toContain("Oscd-Update: pkgs=ffffffffffff");
  });
});
