import { Argument, type Command } from "commander";
import { SHELLS, completionScript, type Shell } from "../completion/index.js";

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script for bash, zsh or fish (every command and option, from the commands themselves)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(SHELLS))
    .addHelpText(
      "after",
      `
Examples:
  oscd completion bash > /etc/bash_completion.d/oscd             # bash, every user (bash-completion)
  echo 'source <(oscd completion bash)' >> ~/.bashrc              # bash, just you
  oscd completion zsh > /usr/local/share/zsh/site-functions/_oscd # zsh: any directory in $fpath, then compinit
  oscd completion fish > ~/.config/fish/completions/oscd.fish     # fish`,
    )
    .action(async (shell: Shell) => {
      // Every command registered in full, so their options are there to list.
      const { buildFullProgram } = await import("../main.js");
      process.stdout.write(completionScript(await buildFullProgram(), shell));
    });
}
