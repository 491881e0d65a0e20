import { Help, type Option } from "commander";

/**
 * How every `--help` lists an option: its description, then what commander knows of it
 * (choices, default), except a default the description already states and the empty list a
 * repeatable option starts from (commander would print "(default: all) (default: [])").
 */
export function optionDescription(option: Option): string {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`choices: ${option.argChoices.map((c) => JSON.stringify(c)).join(", ")}`);
  const value: unknown = option.defaultValue;
  const emptyList = Array.isArray(value) && value.length === 0;
  const stated = /\(default[:\s]/.test(option.description) || /\bdefault:/.test(option.description);
  const shown = option.required || option.optional || (option.isBoolean() && typeof value === "boolean");
  if (value !== undefined && shown && !emptyList && !stated) extra.push(`default: ${option.defaultValueDescription ?? JSON.stringify(value)}`);
  if (option.envVar !== undefined) extra.push(`env: ${option.envVar}`);
  return extra.length > 0 ? `${option.description} (${extra.join(", ")})` : option.description;
}

/** The help configuration every command inherits (set on the program before commands are added). */
export const HELP_CONFIG: Partial<Help> = {
  optionDescription,
  showGlobalOptions: true,
};
