import { z } from "zod";
import { agentConfigSchema, AgentConfigError, type FlagSetting } from "./config.js";

/**
 * Every key of the agent's configuration as a command-line flag, derived from the schema so a
 * new key gets its flag without anyone remembering to add it: the key path in kebab case
 * (`manifest.pollInterval` → `--manifest-poll-interval`). Scalars take one value; lists of
 * scalars repeat the flag; lists of objects (remotes, windows, health probes) take one JSON
 * value per repetition. A flag replaces the file's value at its path; the rest of the file stays.
 */
export type FlagKind = "string" | "number" | "boolean" | "list" | "json-list";

export interface ConfigFlag {
  /** `--manifest-poll-interval` */
  flag: string;
  /** `["manifest", "pollInterval"]` */
  path: string[];
  kind: FlagKind;
  /** What the value looks like, for the help text. */
  value: string;
}

function unwrap(t: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) t = t.unwrap() as z.ZodTypeAny;
    else if (t instanceof z.ZodDefault) t = t.removeDefault() as z.ZodTypeAny;
    else if (t instanceof z.ZodEffects) t = t.innerType() as z.ZodTypeAny;
    else return t;
  }
}

function scalarKind(t: z.ZodTypeAny): "string" | "number" | "boolean" | undefined {
  if (t instanceof z.ZodString || t instanceof z.ZodEnum) return "string";
  if (t instanceof z.ZodNumber) return "number";
  if (t instanceof z.ZodBoolean) return "boolean";
  return undefined;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function walk(t: z.ZodTypeAny, path: string[], out: ConfigFlag[]): void {
  const u = unwrap(t);
  if (u instanceof z.ZodObject) {
    for (const [k, v] of Object.entries(u.shape as Record<string, z.ZodTypeAny>)) walk(v, [...path, k], out);
    return;
  }
  const flag = `--${path.map(kebab).join("-")}`;
  const scalar = scalarKind(u);
  if (scalar) {
    out.push({ flag, path, kind: scalar, value: u instanceof z.ZodEnum ? (u.options as string[]).join("|") : scalar === "boolean" ? "true|false" : scalar });
  } else if (u instanceof z.ZodArray) {
    const item = unwrap(u.element as z.ZodTypeAny);
    if (scalarKind(item)) out.push({ flag, path, kind: "list", value: `${scalarKind(item)} (repeatable)` });
    else out.push({ flag, path, kind: "json-list", value: "json (repeatable, one item each)" });
  } else {
    throw new Error(`agent flags: no flag for ${path.join(".")} (${u.constructor.name})`);
  }
}

/** The flags of every configuration key, in schema order. */
export function configFlags(schema: z.ZodTypeAny = agentConfigSchema): ConfigFlag[] {
  const out: ConfigFlag[] = [];
  walk(schema, [], out);
  return out;
}

/** A flag's raw value(s) as the configuration value; bad values are refused naming the flag. */
export function flagValue(f: ConfigFlag, raw: string | string[]): unknown {
  const values = Array.isArray(raw) ? raw : [raw];
  const one = values[values.length - 1] ?? "";
  switch (f.kind) {
    case "string":
      return one;
    case "number": {
      const n = Number(one);
      if (one.trim() === "" || !Number.isFinite(n)) throw new AgentConfigError(f.flag, `${JSON.stringify(one)} is not a number`);
      return n;
    }
    case "boolean":
      if (one !== "true" && one !== "false") throw new AgentConfigError(f.flag, `${JSON.stringify(one)} is not true or false`);
      return one === "true";
    case "list":
      return values;
    case "json-list":
      return values.map((v) => {
        try {
          return JSON.parse(v) as unknown;
        } catch {
          throw new AgentConfigError(f.flag, `${JSON.stringify(v.slice(0, 80))} is not JSON`);
        }
      });
  }
}

/** The settings given on the command line: each configuration flag's values, by commander attribute. */
export function flagSettings(given: Record<string, unknown>, attributeOf: (f: ConfigFlag) => string): FlagSetting[] {
  const out: FlagSetting[] = [];
  for (const f of configFlags()) {
    const raw = given[attributeOf(f)];
    if (raw === undefined) continue;
    out.push({ path: f.path, value: flagValue(f, raw as string | string[]) });
  }
  return out;
}
