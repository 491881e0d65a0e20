import { describe, expect, it } from "vitest";
import { NixOutputUnrecognisedError, parseNixConfigJson, parseNixVersion, settingWords } from "../../../src/nix/index.js";

// `nix show-config --json` (2.8–2.19) and `nix config show --json` (2.20 on, Lix): per setting
// `value`, `defaultValue`, `description`, `aliases`, and from 2.11 `documentDefault`,
// `experimentalFeature`.
const NIX_2_8 = JSON.stringify({
  system: { aliases: [], defaultValue: "x86_64-linux", description: "The canonical Nix system name.", value: "x86_64-linux" },
  "extra-platforms": { aliases: [], defaultValue: [], description: "…", value: ["i686-linux"] },
  builders: { aliases: [], defaultValue: "@/etc/nix/machines", description: "…", value: "" },
});
const NIX_2_35 = JSON.stringify({
  system: { aliases: [], defaultValue: "x86_64-linux", description: "…", documentDefault: true, experimentalFeature: null, value: "x86_64-linux" },
  "extra-platforms": { aliases: [], defaultValue: [], description: "…", documentDefault: false, experimentalFeature: null, value: ["aarch64-linux", "i686-linux"] },
  builders: { aliases: [], defaultValue: "@/etc/nix/machines", description: "…", documentDefault: true, experimentalFeature: null, value: "ssh-ng://b aarch64-linux" },
  "abort-on-warn": { aliases: [], description: "…", documentDefault: true, experimentalFeature: null },
});

describe("nix show-config / config show --json", () => {
  it("reads 2.8's and 2.35's shapes", () => {
    const a = parseNixConfigJson(NIX_2_8);
    expect(a.get("system")).toBe("x86_64-linux");
    expect(settingWords(a.get("extra-platforms"))).toEqual(["i686-linux"]);
    const b = parseNixConfigJson(NIX_2_35);
    expect(settingWords(b.get("extra-platforms"))).toEqual(["aarch64-linux", "i686-linux"]);
    expect(b.get("builders")).toBe("ssh-ng://b aarch64-linux");
    expect(b.get("abort-on-warn")).toBeUndefined();
    expect(settingWords("a  b\tc")).toEqual(["a", "b", "c"]);
  });

  it("an unknown shape is a typed error naming the command and version", () => {
    const v = parseNixVersion("nix (Nix) 2.40.0");
    expect(() => parseNixConfigJson("[]", v)).toThrow(NixOutputUnrecognisedError);
    expect(() => parseNixConfigJson('{"system": "x86_64-linux"}', v, "nix config show --json")).toThrow(/^cannot read what `nix config show --json` printed on Nix 2\.40\.0: /);
  });
});
