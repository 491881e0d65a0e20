import { Command, Option } from "commander";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { completionScript, SHELLS, type Shell } from "../../../src/cli/completion/index.js";
import { completionModel } from "../../../src/cli/completion/model.js";
import { buildFullProgram } from "../../../src/cli/main.js";

const exec = promisify(execFile);
let dir: string;
const scripts = {} as Record<Shell, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-completion-"));
  const program = await buildFullProgram();
  for (const shell of SHELLS) {
    scripts[shell] = join(dir, `oscd.${shell}`);
    await writeFile(scripts[shell], completionScript(program, shell));
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What bash offers for a command line whose last word is being typed. */
async function bashComplete(words: string[]): Promise<string[]> {
  const quoted = words.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(" ");
  const r = await exec("bash", ["-c", `source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _oscd; printf '%s\\n' "\${COMPREPLY[@]}"`, "bash", scripts.bash]);
  return r.stdout.split("\n").filter(Boolean);
}

/**
 * What zsh's `_oscd` offers, with the completion system's builtins stood in for by functions
 * that print what they were given (a real completion needs an interactive line editor).
 */
async function zshComplete(words: string[]): Promise<string[]> {
  const quoted = words.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(" ");
  const stubs = `compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@"; }; _describe() { local n=$4; print -rl -- \${(P)n%%:*}; }; _files() { print -r -- '<files>'; }`;
  const r = await exec("zsh", ["-f", "-c", `${stubs}; source "$1"; words=(${quoted}); CURRENT=${words.length}; _oscd`, "zsh", scripts.zsh]);
  return r.stdout.split("\n").filter(Boolean);
}

/** What fish offers (fish completes non-interactively with `complete -C`). */
async function fishComplete(line: string): Promise<string[]> {
  const r = await exec("fish", ["--no-config", "-c", `source $argv[1]; complete -C ${JSON.stringify(line)}`, scripts.fish]);
  return r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]!);
}

describe("oscd completion", () => {
  it("the scripts are valid bash, zsh and fish", async () => {
    await exec("bash", ["-n", scripts.bash]);
    await exec("zsh", ["-n", scripts.zsh]);
    await exec("fish", ["--no-execute", scripts.fish]);
  });

  it("bash completes commands, subcommands, options, option values and skips option values", async () => {
    // deploy-target is internal (what `oscd deploy` runs over SSH): hidden, so not offered.
    expect(await bashComplete(["oscd", "dep"])).toEqual(["deploy"]);
    expect(await bashComplete(["oscd", "agent", "--check-c"])).toEqual(["--check-config"]);
    expect(await bashComplete(["oscd", "agent", "sus"])).toEqual(["suspend"]);
    expect(await bashComplete(["oscd", "activate", "--mode", "dr"])).toEqual(["dry-activate"]);
    expect(await bashComplete(["oscd", "completion", ""])).toEqual(["bash", "zsh", "fish"]);
    // `--config fetch` is a value, not the fetch subcommand: the completion stays at `oscd agent`.
    expect(await bashComplete(["oscd", "agent", "--config", "fetch", ""])).toEqual(["fetch", "suspend", "resume", "events"]);
    expect(await bashComplete(["oscd", "server", "token", "--"])).toContain("--help");
  });

  it("zsh offers the same", async () => {
    expect(await zshComplete(["oscd", "agent", "--check-c"])).toContain("--check-config");
    expect(await zshComplete(["oscd", "agent", ""])).toEqual(expect.arrayContaining(["fetch", "suspend", "resume", "events"]));
    expect(await zshComplete(["oscd", "activate", "--mode", ""])).toEqual(["switch", "boot", "test", "dry-activate"]);
    expect(await zshComplete(["oscd", "completion", ""])).toEqual(["bash", "zsh", "fish"]);
    expect(await zshComplete(["oscd", "agent", "--config", ""])).toEqual(["<files>"]);
  });

  it("fish offers the same", async () => {
    expect(await fishComplete("oscd agent --check-c")).toEqual(["--check-config"]);
    expect(await fishComplete("oscd agent ")).toEqual(expect.arrayContaining(["fetch", "suspend", "resume", "events"]));
    expect(await fishComplete("oscd activate --mode ")).toEqual(["boot", "dry-activate", "switch", "test"]);
    expect(await fishComplete("oscd completion ")).toEqual(expect.arrayContaining(["bash", "zsh", "fish"]));
  });

  it("lists every command and option of the program, including ones added later", async () => {
    const program = await buildFullProgram();
    program.command("later-command").description("added after the scripts were written").addOption(new Option("--later-flag <v>", "a later flag").choices(["one", "two"]));
    const script = completionScript(program, "bash");
    await writeFile(scripts.bash, script);
    expect(await bashComplete(["oscd", "later-"])).toEqual(["later-command"]);
    expect(await bashComplete(["oscd", "later-command", "--later-flag", ""])).toEqual(["one", "two"]);
    // Every command path and every option of the full program is in the model.
    const model = completionModel(program);
    const walk = (cmd: Command, path: string[]): void => {
      const entry = model.find((m) => m.path.join(" ") === path.join(" "));
      expect(entry, path.join(" ")).toBeDefined();
      // Hidden options (the deprecated spellings) are not offered.
      for (const o of cmd.options.filter((x) => !x.hidden)) expect(entry!.options.some((x) => x.flags.includes(o.long ?? o.short ?? "")), `${path.join(" ")} ${o.flags}`).toBe(true);
      // Hidden commands (deploy-target's internal `run`) are not offered.
      for (const c of cmd.commands) if (!(c as Command & { _hidden?: boolean })._hidden) walk(c, [...path, c.name()]);
    };
    walk(program, ["oscd"]);
    await writeFile(scripts.bash, completionScript(await buildFullProgram(), "bash"));
  });

  it("refuses a name a shell would read as syntax", () => {
    const program = new Command("oscd");
    program.command("evil").addOption(new Option("--mode <m>").choices(["ok", "$(touch /tmp/x)"]));
    expect(() => completionScript(program, "bash")).toThrow(/not a plain word/);
  });
});
