import { describe, expect, it } from "vitest";
import { fileStoreDir, redactUrl } from "../../../src/publish/index.js";

describe("redactUrl: cache URLs fit for the manifest and progress lines", () => {
  it("drops user names and passwords", () => {
    expect(redactUrl("https://ci:hunter2@cache.example.org/nix")).toBe("https://cache.example.org/nix");
    expect(redactUrl("https://ci@cache.example.org")).toBe("https://cache.example.org");
    expect(redactUrl("ssh-ng://deploy@builder.example.org")).toBe("ssh-ng://builder.example.org");
    expect(redactUrl("https://a:b@c@cache.example.org/x")).toBe("https://cache.example.org/x");
  });

  it("drops parameters that carry secrets or key files, and keeps the others", () => {
    expect(redactUrl("file:///srv/cache?secret-key=/run/keys/fleet.secret&compression=zstd")).toBe("file:///srv/cache?compression=zstd");
    expect(redactUrl("ssh://builder?ssh-key=/root/.ssh/id_ed25519")).toBe("ssh://builder");
    expect(redactUrl("s3://bucket?region=eu-west-1&profile=ci&aws_secret_access_key=x&X-Amz-Security-Token=y")).toBe("s3://bucket?region=eu-west-1&profile=ci");
    expect(redactUrl("https://cache.example.org?token=abc&access-token=d&Password=e&base64-ssh-public-host-key=AAAA")).toBe("https://cache.example.org");
    expect(redactUrl("https://cache.example.org?%73ecret-key=x")).toBe("https://cache.example.org");
  });

  it("leaves plain URLs as they are and drops fragments", () => {
    expect(redactUrl("file:///srv/nix-cache")).toBe("file:///srv/nix-cache");
    expect(redactUrl("https://cache.example.org/nix/")).toBe("https://cache.example.org/nix/");
    expect(redactUrl("https://cache.example.org/nix#frag")).toBe("https://cache.example.org/nix");
    expect(redactUrl("not a url?secret=1")).toBe("not a url");
  });

  it("file store directories lose their parameters", () => {
    expect(fileStoreDir("file:///srv/cache?secret-key=/k")).toBe("/srv/cache");
    expect(fileStoreDir("https://x")).toBeUndefined();
  });
});
