import type { Command } from "commander";
import { fleetJsonSchema } from "../../fleet/index.js";
import { printJson } from "../output.js";

export function registerSchema(program: Command): void {
  program
    .command("schema")
    .description("print the JSON Schema of the fleet file oscd.toml, for editors")
    .addHelpText("after", "\nExamples:\n  oscd schema > oscd.schema.json\n  # then start oscd.toml with:  #:schema ./oscd.schema.json\n")
    .action(async () => printJson(await fleetJsonSchema()));
}
