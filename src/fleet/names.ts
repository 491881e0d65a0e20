import { z } from "zod";
import { CHANNEL_NAME } from "../manifest/index.js";

/**
 * Names that enter through the fleet file and machine.toml: channels and hosts. They become
 * file names (`channels/<channel>.<n>.json`), attribute paths and keys of plain objects, so
 * they are checked where they enter, and looked up only as own properties.
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

function nameProblem(name: string, rule: RegExp, what: string): string | undefined {
  if (isReservedName(name)) return `${JSON.stringify(name)} is a reserved name`;
  if (name.length > NAME_MAX) return `a ${what} name has at most ${NAME_MAX} characters`;
  if (!rule.test(name)) return `a ${what} name has letters, digits, '-' and '_', and starts with a letter or digit`;
  return undefined;
}

export function channelNameProblem(name: string): string | undefined {
  return nameProblem(name, CHANNEL_NAME, "channel");
}

export function hostNameProblem(name: string): string | undefined {
  return nameProblem(name, HOST_NAME, "host");
}

function nameSchema(problem: (name: string) => string | undefined) {
  return z.string().superRefine((name, ctx) => {
    const p = problem(name);
    if (p !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: p });
  });
}

export const channelNameSchema = nameSchema(channelNameProblem);
export const hostNameSchema = nameSchema(hostNameProblem);

/**
 * A table keyed by checked names, returned without a prototype: even code that asks
 * `name in table` cannot find `toString` or `constructor` there.
 */
export function namedTable<V extends z.ZodTypeAny>(key: z.ZodType<string, z.ZodTypeDef, string>, value: V) {
  return z.record(key, value).transform((t) => Object.assign(Object.create(null) as Record<string, z.output<V>>, t));
}

/** The entry of `table` named `name`, only if the table itself has it. */
export function ownEntry<V>(table: Readonly<Record<string, V>>, name: string): V | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}
