import { describe, expect, it } from "vitest";
import { OscdError } from "../../../src/core/errors.js";
import { fileStoreDir, redactUrl } from "../../../src/publish/index.js";
import { withRedactedUrl } from "../../../src/publish/store-url.js";

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

describe("withRedactedUrl", () => {
  it("takes the URL's credentials out of an error's message, stderr and command", async () => {
    const url = "https://ci:hunter2@cache.example.org/nix?secret-key=/k";
    const e = new OscdError("x", `cannot reach ${url}: error: unable to download 'https://ci:hunter2@cache.example.org/nix/nix-cache-info'`);
    Object.assign(e, { stderrTail: `error: ${url}`, command: ["nix", "copy", "--to", url] });
    const thrown = await withRedactedUrl(url, () => Promise.reject(e)).catch((x: unknown) => x as OscdError & { stderrTail: string; command: string[] });
    expect(thrown).toBe(e);
    expect(thrown.message).toBe("cannot reach https://cache.example.org/nix: error: unable to download 'https://cache.example.org/nix/nix-cache-info'");
    expect(thrown.stderrTail).not.toContain("hunter2");
    expect(thrown.command.join(" ")).not.toContain("hunter2");
    expect(await withRedactedUrl(url, () => Promise.resolve(7))).toBe(7);
  });
});
