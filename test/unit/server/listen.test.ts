import { describe, expect, it } from "vitest";
import { parseListen } from "../../../src/server/serve.js";

describe("parseListen", () => {
  it("reads HOST:PORT, [IPv6]:PORT and PORT, and refuses anything else as a usage error", () => {
    expect(parseListen(undefined)).toEqual({ host: "127.0.0.1", port: 8420 });
    expect(parseListen("0.0.0.0:80")).toEqual({ host: "0.0.0.0", port: 80 });
    expect(parseListen("[::1]:8420")).toEqual({ host: "::1", port: 8420 });
    expect(parseListen("9000")).toEqual({ host: "127.0.0.1", port: 9000 });
    for (const bad of ["", "host:", ":80", "a:99999", "a b:80", "1.2.3.4:80\nx"]) {
      expect(() => parseListen(bad), bad).toThrow(expect.objectContaining({ code: "bad-listen", exitCode: 2 }));
    }
  });
});
