import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NixOutputUnrecognisedError, parseNixVersion, parsePathInfoJson, parsePublicKey, trustedSigner, type PathInfo } from "../../../src/nix/index.js";
import { reportError } from "../../../src/cli/main.js";

/*
 * One fixture per shape `nix path-info --json` has had, written from the Nix manual's format
 * description (protocols/json/store-object-info.md) and the sources of each release: the same
 * store object and signature in every shape, so each must read to the same record.
 */
const DIR = join(import.meta.dirname, "fixtures/path-info");
const fixture = (name: string) => readFileSync(join(DIR, `${name}.json`), "utf8");
const KEY = parsePublicKey("fixture-cache-1:E8CVnuc+ycpn6pUIT0F974fhBo6G/1W2piACJjQIXjg=");
const P = "/nix/store/08m919ny793w4m8ljyrjklgvssimir8h-nixos-system-web1-1.0.0";
const M = "/nix/store/00000000000000000000000000000000-missing";
const K = "/nix/store/rilkjgxqidsqprvf0i57shli582l1gl9-linux-6.1.0";
const REFS = [P, "/nix/store/j9kllk7zd6l5xl7y2y70w90k563zsbcj-initrd-6.1.0-1", K];

const SHAPES: [string, string][] = [
  ["nix-2.8-array", "nix (Nix) 2.8.0"],
  ["lix-2.93-array", "nix (Lix, like Nix) 2.93.2"],
  ["nix-2.19-object", "nix (Nix) 2.19.2"],
  ["nix-2.24-object-cache", "nix (Nix) 2.24.14"],
  ["nix-2.33-format-1", "nix (Nix) 2.33.1"],
  ["nix-2.33-format-2", "nix (Nix) 2.33.1"],
  ["nix-2.35-format-3", "nix (Nix) 2.35.2"],
  ["nix-dev-structured-hash", "nix (Nix) 2.33.0pre20251120_dirty"],
];

function byPath(infos: PathInfo[]): Map<string, PathInfo> {
  return new Map(infos.map((i) => [i.path, i]));
}

describe("nix path-info --json in every documented shape", () => {
  it("has a test for every fixture file", () => {
    expect(readdirSync(DIR).map((f) => f.replace(/\.json$/, "")).sort()).toEqual(SHAPES.map(([n]) => n).sort());
  });

  for (const [name, versionLine] of SHAPES) {
    it(`${name}: full paths, an SRI hash, the signature that verifies, invalid paths as invalid`, () => {
      const infos = byPath(parsePathInfoJson(fixture(name), parseNixVersion(versionLine)));
      const p = infos.get(P);
      expect(p).toMatchObject({ path: P, valid: true, narHash: "sha256-9NB7eNZUuA+AC/QTle1/cFFPHGPHGo8SAG3NtHYtDrw=", narSize: 5272 });
      expect(p?.references).toEqual(REFS);
      // The fingerprint is made from full paths: base names joined wrongly would not verify.
      expect(trustedSigner(p as PathInfo, [KEY])?.name).toBe("fixture-cache-1");
      if (infos.has(M)) expect(infos.get(M)).toMatchObject({ valid: false, signatures: [] });
      if (p?.deriver !== undefined) expect(p.deriver).toBe("/nix/store/9z45z55jbfs7fh75wyhnpbvkplf6i2jv-nixos-system-web1-1.0.0.drv");
    });
  }

  it("a path with no signatures has none (2.8 leaves the field out, 2.33 writes [])", () => {
    for (const name of ["nix-2.8-array", "nix-2.33-format-1", "nix-2.33-format-2"]) {
      const k = byPath(parsePathInfoJson(fixture(name))).get(K);
      expect(k).toMatchObject({ valid: true, signatures: [], references: [] });
      expect(trustedSigner(k as PathInfo, [KEY])).toBeUndefined();
    }
    expect(byPath(parsePathInfoJson(fixture("nix-2.33-format-2"))).get(K)?.contentAddressed).toBe(true);
  });

  it("reads the closure size and a cache's record", () => {
    expect(byPath(parsePathInfoJson(fixture("nix-2.24-object-cache"))).get(P)?.closureSize).toBe(5392);
    expect(byPath(parsePathInfoJson(fixture("nix-2.35-format-3"))).get(P)?.closureSize).toBe(5392);
  });

  it("a signature that does not cover the record does not verify, in any shape", () => {
    for (const [name] of SHAPES) {
      const p = byPath(parsePathInfoJson(fixture(name))).get(P) as PathInfo;
      expect(trustedSigner({ ...p, narSize: p.narSize + 1 }, [KEY])).toBeUndefined();
      expect(trustedSigner({ ...p, references: p.references.slice(1) }, [KEY])).toBeUndefined();
    }
  });
});

describe("an unknown shape is a typed error naming the command and the Nix version", () => {
  const v = parseNixVersion("nix (Nix) 2.41.0");
  const cases: [string, RegExp][] = [
    ["", /it printed nothing/],
    ["warning: something\n", /not JSON/],
    ['"a string"', /expected an array or an object/],
    ["[1, 2]", /Expected object/],
    [`{"${P}": {"narHash": 42, "narSize": 1, "references": []}}`, /narHash of .* is not a hash/],
    [`{"${P}": {"narHash": "md5-abc", "narSize": 1, "references": []}}`, /narHash/],
    [`{"${P}": {"narHash": "sha256-9NB7eNZUuA+AC/QTle1/cFFPHGPHGo8SAG3NtHYtDrw=", "references": []}}`, /no narSize/],
    [`{"not-a-path": null}`, /not a store path/],
    [`{"${P}": {"narHash": "sha256-9NB7eNZUuA+AC/QTle1/cFFPHGPHGo8SAG3NtHYtDrw=", "narSize": 1, "references": ["../../etc/passwd"]}}`, /reference .* is not a store path/],
    [`{"version": 1, "storeDir": "/nix/store", "info": {}}`, /format version 1/],
    [`{"version": 4, "storeDir": "/nix/store", "info": []}`, /Expected object/],
  ];
  for (const [text, detail] of cases) {
    it(`${JSON.stringify(text.slice(0, 60))}`, () => {
      let err: unknown;
      try {
        parsePathInfoJson(text, v);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NixOutputUnrecognisedError);
      const e = err as NixOutputUnrecognisedError;
      expect(e.code).toBe("nix-output-unrecognised");
      expect(e.message).toMatch(/^cannot read what `nix path-info --json` printed on Nix 2\.41\.0: /);
      expect(e.message).toMatch(detail);
      // The CLI prints it as itself, never as an internal error.
      const out: string[] = [];
      expect(reportError(e, (s) => out.push(s))).toBe(1);
      expect(out[0]).toMatch(/^oscd: error\[nix-output-unrecognised\]: /);
    });
  }
});
