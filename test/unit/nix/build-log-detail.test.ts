import { describe, expect, it } from "vitest";
import { BuildLogBook, failedBuildDetail } from "../../../src/builder/build-logs.js";

const TOP = "/nix/store/0hggf535faadxp8mk5hnrdi36mplfk1p-nixos-system-web2-1.0.0.drv";
const DEP = "/nix/store/1aaaf535faadxp8mk5hnrdi36mplfk1p-hello-2.12.drv";
const OTHER = "/nix/store/2bbbf535faadxp8mk5hnrdi36mplfk1p-nixos-system-web1-1.0.0.drv";

describe("a failed build's message carries its log", () => {
  it("the host's own build: Nix's message and the last log lines", () => {
    const book = new BuildLogBook();
    book.started(7, TOP);
    for (let i = 0; i < 40; i++) book.line(7, `line ${i}`);
    const d = failedBuildDetail({ host: "web2", drvPath: TOP }, [`error: builder for '${TOP}' failed with exit code 1`], book, new Set()) ?? "";
    expect(d).toContain(`builder for '${TOP}' failed`);
    expect(d).toContain("last 25 log line(s) of nixos-system-web2-1.0.0:");
    expect(d).toContain("> line 39");
    expect(d).not.toContain("> line 14\n");
  });

  it("a dependency that failed is shown for the host that needed it, not another host's toplevel", () => {
    const book = new BuildLogBook();
    book.started(1, DEP);
    book.line(1, "hello.c:3: syntax error");
    book.started(2, OTHER);
    book.line(2, "web1 noise");
    const messages = [`error: builder for '${DEP}' failed with exit code 2`, `error: builder for '${OTHER}' failed with exit code 1`, `error: 1 dependencies of derivation '${TOP}' failed to build`];
    const d = failedBuildDetail({ host: "web2", drvPath: TOP }, messages, book, new Set([OTHER])) ?? "";
    expect(d).toContain("hello.c:3: syntax error");
    expect(d).not.toContain("web1 noise");
  });

  it("with -L every line goes to the stream, named for its host", () => {
    const seen: string[] = [];
    const book = new BuildLogBook({ sink: (who, l) => seen.push(`${who}|${l}`), who: (drv) => (drv === TOP ? "web2" : "hello-2.12") });
    book.started(3, TOP);
    book.started(4, DEP);
    book.line(3, "a");
    book.line(4, "b");
    book.line(undefined, "c");
    expect(seen).toEqual(["web2|a", "hello-2.12|b", "nix|c"]);
  });
});
