import { parse as parseToml } from "smol-toml";
import { OscdError } from "../core/errors.js";
import { structureProblem } from "./issues.js";

// TOML reading and its error, apart from load.ts (the fleet file) so that the machine's own
// configuration (machine.ts) does not load the fleet file's schemas.

export class FleetConfigError extends OscdError {
  constructor(file: string, detail: string) {
    super("fleet-config", `${file}: ${detail}`, {
      hint: "fix the fleet file; `oscd init` writes a valid one, and `oscd schema` prints the JSON Schema of every field",
      exitCode: 2,
    });
  }
}

/**
 * TOML text to plain data; `name` is used in error messages. Any failure of the parser
 * (deep nesting included) is a fleet-config error; `__proto__` keys and documents nested
 * deeper than any oscd file needs are refused here.
 */
export function parseTomlFile(text: string, name: string): unknown {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    // smol-toml's message continues with an excerpt of the file over several lines.
    const msg = e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e);
    throw new FleetConfigError(name, `not valid TOML: ${msg.replace(/[^\x20-\x7e]/g, "?")}`);
  }
  const problem = structureProblem(raw);
  if (problem !== undefined) throw new FleetConfigError(name, problem);
  return raw;
}
