import { z } from "zod";
import { CHANNEL_NAME } from "../manifest/light.js";
import { HOST_NAME, isReservedName, NAME_MAX } from "./name-rules.js";

export { HOST_NAME, isReservedName, NAME_MAX } from "./name-rules.js";

// The zod schemas of the names of the fleet file and machine.toml (name-rules.ts: the rules).

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
