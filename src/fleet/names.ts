import { z } from "zod";
import { CHANNEL_NAME } from "../manifest/light.js";

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

/** The one rule per kind of name; the `…Problem` functions below ask the same schema. */
function nameSchema(rule: RegExp, what: string) {
  return z
    .string()
    .max(NAME_MAX, `a ${what} name has at most ${NAME_MAX} characters`)
    .regex(rule, `a ${what} name has letters, digits, '-' and '_', and starts with a letter or digit`)
    .refine((name) => !isReservedName(name), (name) => ({ message: `${JSON.stringify(name)} is a reserved name` }));
}

export const channelNameSchema = nameSchema(CHANNEL_NAME, "channel");
export const hostNameSchema = nameSchema(HOST_NAME, "host");

function problem(schema: z.ZodTypeAny, name: string): string | undefined {
  const r = schema.safeParse(name);
  return r.success ? undefined : r.error.issues[0]?.message;
}

/** Why `name` is not a channel name, or undefined when it is one. */
export function channelNameProblem(name: string): string | undefined {
  return problem(channelNameSchema, name);
}

/** Why `name` is not a host name (for hosts found elsewhere, e.g. in nixosConfigurations). */
export function hostNameProblem(name: string): string | undefined {
  return problem(hostNameSchema, name);
}

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
