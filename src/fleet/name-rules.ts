/**
 * Names that enter through the fleet file and machine.toml: channels and hosts. They become
 * file names (`channels/<channel>.<n>.json`), attribute paths and keys of plain objects, so
 * they are checked where they enter, and looked up only as own properties. The rules alone,
 * without zod (names.ts builds the schemas from them): machine.toml's plain check uses them.
 */

/** The manifest's host-name rule: letters, digits, `-` and `_`, starting alphanumeric. */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** Long enough for any real name, short enough to stay a valid file name with a suffix. */
export const NAME_MAX = 100;

/**
 * True for names an object already answers without having them (`constructor`, `toString`,
 * `__proto__`, …): a table keyed by such a name would be read wrong by `in` or `obj[name]`.
 */
export function isReservedName(name: string): boolean {
  return name in Object.prototype || name === "prototype";
}
