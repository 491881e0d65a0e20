import { describe, expect, it } from "vitest";
import { lastErrorLine } from "../../../src/nix/command.js";

const P = "/nix/store/kq9fqhsac1hmkvkc7yr9zhxnrhmc2yii-nixos-system-web1-1.0.0";

describe("lastErrorLine keeps the line that names the cause", () => {
  it("passes over Nix's 'build of … failed' summary for the hash mismatch before it", () => {
    const stderr = [
      `copying path '${P}' from 'file:///tmp/cache'...`,
      `error: hash mismatch importing path '${P}';`,
      "         specified: sha256:0lq6ak3ps6bq3d0a0fhhqnh1nl0ld5fm2ykrxdg0l9f2bn3yfvvi",
      "         got:       sha256:1d4gk4rbaar0dg2mvy8z2f6nvyk4kkc1dby0fq0qbk8xjkyx1mfz",
      `error: build of '${P}' failed`,
      "",
    ].join("\n");
    expect(lastErrorLine(stderr)).toBe(`error: hash mismatch importing path '${P}';`);
  });

  it("still gives the summary when it is the only error, and the last line when there is none", () => {
    expect(lastErrorLine(`error: build of '${P}' failed\n`)).toBe(`error: build of '${P}' failed`);
    expect(lastErrorLine("warning: something\nplain last line\n")).toBe("plain last line");
  });
});
