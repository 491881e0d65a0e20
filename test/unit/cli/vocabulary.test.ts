import type { Command, Option } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { configFlags, flagName } from "../../../src/agent/index.js";
import { DEPRECATED_FLAGS } from "../../../src/cli/deprecated-flags.js";
import { buildFullProgram } from "../../../src/cli/main.js";
import { joinOptionPairs } from "../../../src/cli/nix-options.js";
import { allCommands } from "./parse-only.js";

/**
 * oscd's one vocabulary: each concept has one flag, and these are the other spellings it had (or
 * that a new command might reach for). A visible option spelled one of them fails the test.
 */
const CONCEPTS: { concept: string; name: string; not: RegExp }[] = [
  { concept: "a secret key file that signs", name: "--sign-key", not: /^--(key|secret-key|signing-key|secret|private-key|key-file)$/ },
  { concept: "a trusted public key (name:base64 or a file)", name: "--trusted-key", not: /^--(key|pubkey|public-key|trusted-public-keys?|trusted-keys|trust-key)$/ },
  { concept: "the control server's URL", name: "--server", not: /^--(server-url|url|control-server|api-url)$/ },
  { concept: "a file holding a control server token", name: "--server-token-file", not: /^--(token-file|token|server-token|api-token-file)$/ },
  { concept: "the fleet repository", name: "--repo", not: /^--(dir|fleet|repository|fleet-dir|fleet-repo|checkout)$/ },
  { concept: "a trust root file", name: "--trust-root", not: /^--(root|root-file|trust-root-file)$/ },
  { concept: "a directory of trust documents", name: "--trust-dir", not: /^--(trust|trust-directory)$/ },
  { concept: "the channel", name: "--channel", not: /^--(manifest-channel|server-channel|channel-name)$/ },
];

interface Seen {
  where: string;
  option: Option;
}

function visibleOptions(program: Command): Seen[] {
  return allCommands(program).flatMap(({ path, cmd }) => cmd.options.filter((o) => !o.hidden).map((option) => ({ where: `oscd ${path.join(" ")}`, option })));
}

/** The ways one program spells a concept twice: the findings, one line each. */
function vocabularyProblems(program: Command): string[] {
  const seen = visibleOptions(program);
  const bad: string[] = [];
  for (const { where, option } of seen) {
    const long = option.long ?? "";
    for (const c of CONCEPTS) if (c.not.test(long)) bad.push(`${where} ${long}: ${c.concept} is ${c.name}`);
    // A word twice in a row: --reboot-reboot-window-lower.
    if (/\b(\w+)-\1\b/.test(long.slice(2))) bad.push(`${where} ${long}: a word twice`);
    // The fleet repository has one short flag too, everywhere.
    if (long === "--repo" && option.short !== "-C") bad.push(`${where} --repo: without -C`);
  }
  // Overlapping pairs on one command: --manifest-url / --manifest-urls.
  for (const { path, cmd } of allCommands(program)) {
    const longs = new Set(cmd.options.filter((o) => !o.hidden).map((o) => o.long ?? ""));
    for (const l of longs) if (longs.has(`${l}s`)) bad.push(`oscd ${path.join(" ")} ${l} and ${l}s: one concept, two flags`);
  }
  return bad;
}

describe("one vocabulary", () => {
  it("no visible option spells a concept another way, repeats a word, or pairs with its plural", async () => {
    expect(vocabularyProblems(await buildFullProgram())).toEqual([]);
  });

  it("the check finds each kind of problem (it can fail)", async () => {
    const { Command } = await import("commander");
    const p = new Command("oscd");
    p.command("publish").option("--key <file>").option("--repo <dir>");
    p.command("agent").option("--manifest-url <u>").option("--manifest-urls <u>").option("--reboot-reboot-window-lower <t>").option("--trusted-public-key <k>");
    p.command("status").option("--token-file <f>").option("--server-url <u>");
    p.command("init").option("-C, --dir <dir>");
    expect(vocabularyProblems(p)).toEqual([
      "oscd publish --key: a secret key file that signs is --sign-key",
      "oscd publish --key: a trusted public key (name:base64 or a file) is --trusted-key",
      "oscd publish --repo: without -C",
      "oscd agent --reboot-reboot-window-lower: a word twice",
      "oscd agent --trusted-public-key: a trusted public key (name:base64 or a file) is --trusted-key",
      "oscd status --token-file: a file holding a control server token is --server-token-file",
      "oscd status --server-url: the control server's URL is --server",
      "oscd init --dir: the fleet repository is --repo",
      "oscd agent --manifest-url and --manifest-urls: one concept, two flags",
    ]);
  });

  it("every concept's name is in use, so the table describes the program", async () => {
    const longs = new Set(visibleOptions(await buildFullProgram()).map((s) => s.option.long));
    expect(CONCEPTS.map((c) => c.name).filter((n) => !longs.has(n))).toEqual([]);
  });
});

describe("the agent's generated flags", () => {
  it("follow the naming rule", () => {
    expect(flagName(["manifest", "pollInterval"], "number")).toBe("--manifest-poll-interval");
    expect(flagName(["reboot", "rebootWindow", "lower"], "string")).toBe("--reboot-window-lower");
    expect(flagName(["exporter", "enable"], "boolean")).toBe("--exporter");
    expect(flagName(["manifest", "urls"], "list")).toBe("--manifest-url");
    expect(flagName(["remotes"], "json-list")).toBe("--remote");
    expect(flagName(["retention", "maxFreedMiB"], "number")).toBe("--retention-max-freed-mib");
    expect(flagName(["trustedPublicKeys"], "list")).toBe("--trusted-key");
    expect(flagName(["server", "url"], "string")).toBe("--server");
    expect(flagName(["health", "systemdUnits"], "boolean")).toBe("--health-systemd-units");
  });

  it("are unique, and --channel sets the manifest's channel and the server's", () => {
    const flags = configFlags();
    expect(new Set(flags.map((f) => f.flag)).size).toBe(flags.length);
    const channel = flags.find((f) => f.flag === "--channel");
    expect(channel?.paths.map((p) => p.join("."))).toEqual(["manifest.channel", "server.channel"]);
    expect(flags.find((f) => f.flag === "--manifest-url")?.formerly).toEqual(["--manifest-urls"]);
  });
});

describe("the old spellings", () => {
  const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  afterEach(() => err.mockClear());

  /** Parses a command line (no action runs) and gives the options of the command it names. */
  async function parse(argv: string[]): Promise<Record<string, unknown>> {
    const program = await buildFullProgram();
    let opts: Record<string, unknown> = {};
    for (const { cmd } of allCommands(program)) cmd.action((...args: unknown[]) => void (opts = (args[args.length - 1] as Command).opts()));
    await program.parseAsync(["node", "oscd", ...joinOptionPairs(argv)]);
    return opts;
  }

  it("stay hidden and name an option that exists", async () => {
    const program = await buildFullProgram();
    for (const { path, cmd } of allCommands(program)) {
      for (const [old, to] of DEPRECATED_FLAGS[path.join(" ")] ?? []) {
        const alias = cmd.options.find((o) => o.flags === old);
        expect(alias?.hidden, `${path.join(" ")} ${old}`).toBe(true);
        expect(cmd.options.find((o) => o.long === to)?.hidden, `${path.join(" ")} ${to}`).toBe(false);
      }
    }
    for (const key of Object.keys(DEPRECATED_FLAGS)) expect(allCommands(program).some((c) => c.path.join(" ") === key), key).toBe(true);
  });

  it("still work, and say once on stderr what replaces them", async () => {
    const o = await parse(["manifest", "verify", "m.json", "--key", "a.public", "--trusted-key", "b.public", "--key", "c.public"]);
    expect(o.trustedKey).toEqual(["a.public", "b.public", "c.public"]);
    const lines = err.mock.calls.map((c) => String(c[0]));
    expect(lines).toEqual(["oscd: warning: --key is deprecated; use --trusted-key\n"]);

    expect((await parse(["status", "--server", "https://s", "--token-file", "/t"])).serverTokenFile).toBe("/t");
    expect((await parse(["init", "--dir", "/f"])).repo).toBe("/f");
    expect((await parse(["bundle", "--on", "k", "-o", "/b", "--key", "/k.secret", "--trust", "/t"])).signKey).toBe("/k.secret");
    const agent = await parse(["agent", "--no-exporter", "--manifest-urls", "file:///a", "--manifest-url", "file:///b", "--reboot-reboot-window-lower", "01:00", "--trusted-public-key", "k:x"]);
    expect(agent).toMatchObject({ exporter: "false", manifestUrl: ["file:///a", "file:///b"], rebootWindowLower: "01:00", trustedKey: ["k:x"] });
    const said = err.mock.calls.map((c) => String(c[0]));
    for (const l of ["--token-file is deprecated; use --server-token-file", "--dir is deprecated; use --repo", "--trust is deprecated; use --trust-dir", "--no-exporter is deprecated; use --exporter false", "--manifest-urls is deprecated; use --manifest-url", "--reboot-reboot-window-lower is deprecated; use --reboot-window-lower"]) {
      expect(said).toContain(`oscd: warning: ${l}\n`);
    }
  });

  it("are not in help", async () => {
    const program = await buildFullProgram();
    const publish = program.commands.find((c) => c.name() === "publish") as Command;
    expect(publish.helpInformation()).not.toMatch(/--key\b/);
    expect(publish.helpInformation()).toMatch(/--sign-key <file>/);
  });
});
