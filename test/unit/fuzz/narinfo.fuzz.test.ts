import { describe, expect, it } from "vitest";
import { formatNarInfo, generateSecretKey, parseNarInfo, signNarInfo } from "../../../src/nix/index.js";
import { expectNoFailures, fuzzFailures, int, mutants, pick, rng } from "./mutate.js";

const BASE32 = "0123456789abcdfghijklmnpqrsvwxyz";
const TEXT = `StorePath: /nix/store/5clznwb8h5c67fv278ck73l9qigdaf0n-x
URL: nar/06456zlqd7bwk4d8lv5n5qqiznf0xx6bgd5fwbns3a4544s91n9b.nar.xz
Compression: xz
FileHash: sha256:06456zlqd7bwk4d8lv5n5qqiznf0xx6bgd5fwbns3a4544s91n9b
FileSize: 180
NarHash: sha256:09lyip90d3f7nlw4cznbydbkf6khzv8j0dsk0iwh9f00rrh68sqr
NarSize: 456
References: 5clznwb8h5c67fv278ck73l9qigdaf0n-x 21agrl60368ga22b3s23kmf5bi9ha3vn-y
Deriver: p56hxq7bwjhblhag82a6d48dbc5320sn-x.drv
`;
const SIGNED = formatNarInfo(signNarInfo(parseNarInfo(TEXT), generateSecretKey("cache-1")));
const FIXTURES = [TEXT, SIGNED, TEXT.replace(/References: .*\n/, "References: \n")];
const EXTRAS = ["StorePath: /nix/store/21agrl60368ga22b3s23kmf5bi9ha3vn-y", "NarSize: 99999999999999999999", "NarSize: -1", "FileSize: 0x10", "Sig: a", "Sig: :", "CA: fixed:r:sha256:abc", "References: ../x", "NarHash: sha256:", ": x", "x: "];

describe("fuzz: narinfo", () => {
  it("fails only with a typed one-line error on 4000 mutated narinfos (seed 5001)", () => {
    const inputs = [...mutants(5001, 4000, FIXTURES, EXTRAS)];
    expectNoFailures(fuzzFailures(inputs, parseNarInfo), inputs.length);
  });

  it("parses and formats back 500 generated valid narinfos (seed 5002)", () => {
    const r = rng(5002);
    const hash = (n: number) => Array.from({ length: n }, () => pick(r, [...BASE32])).join("");
    const name = () => `${pick(r, ["hello", "glibc", "nixos-system-web1", "x"])}-${int(r, 100)}.${int(r, 10)}`;
    for (let k = 0; k < 500; k++) {
      const refs = Array.from({ length: int(r, 5) }, () => `${hash(32)}-${name()}`);
      const text = [
        `StorePath: /nix/store/${hash(32)}-${name()}`,
        `URL: nar/${hash(52)}.nar.xz`,
        "Compression: xz",
        `FileHash: sha256:${hash(52)}`,
        `FileSize: ${int(r, 2 ** 40)}`,
        `NarHash: sha256:${hash(52)}`,
        `NarSize: ${int(r, 2 ** 40)}`,
        `References: ${refs.join(" ")}`,
      ].join("\n") + "\n";
      expect(formatNarInfo(parseNarInfo(text))).toBe(text);
    }
  });
});
