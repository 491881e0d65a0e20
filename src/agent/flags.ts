import { z } from "zod";
import { agentConfigSchema, AgentConfigError, type FlagSetting } from "./config.js";

/**
 * Every key of the agent's configuration as a command-line flag, derived from the schema so a
 * new key gets its flag without anyone remembering to add it. The naming rule (flagName):
 * - the key path in kebab case: `manifest.pollInterval` → `--manifest-poll-interval`;
 * - a key does not repeat its parent: `reboot.rebootWindow.lower` → `--reboot-window-lower`;
 * - `enable` is its parent's switch: `exporter.enable` → `--exporter true|false`;
 * - a list is given one item per flag, so its flag is singular: `manifest.urls` → `--manifest-url`;
 * - oscd's one vocabulary wins over the path (VOCABULARY): `trustedPublicKeys` → `--trusted-key`,
 *   `server.url` → `--server`, and the one channel (`manifest.channel`, `server.channel`) → `--channel`.
 * Scalars take one value; lists of scalars repeat the flag; lists of objects (remotes, windows,
 * health probes) take one JSON value per repetition. A flag replaces the file's value at its
 * path; the rest of the file stays.
 */
export type FlagKind = "string" | "number" | "boolean" | "list" | "json-list";

export interface ConfigFlag {
  /** `--manifest-poll-interval` */
  flag: string;
  /** `["manifest", "pollInterval"]` */
  path: string[];
  /**
   * Every path the flag sets: `path` always, the others where their parent object is already
   * there (`--channel`: manifest.channel, and server.channel when a server is configured).
   */
  paths: string[][];
  /** The name the flag had before the naming rule (`--manifest-urls`), when it differs: a deprecated alias. */
  formerly: string[];
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

/** The flag of a key path in oscd's one vocabulary, in the order of precedence of its paths. */
const VOCABULARY: Readonly<Record<string, string>> = {
  trustedPublicKeys: "--trusted-key",
  "server.url": "--server",
  "manifest.channel": "--channel",
  "server.channel": "--channel",
};

/** A key's words: `maxFreedMiB` → max, freed, mib (a unit stays one word). */
function words(key: string): string[] {
  return key.replace(/MiB$/, "Mib").replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`).trim().split(" ");
}

/** The flag of a configuration key (the naming rule above). */
export function flagName(path: readonly string[], kind: FlagKind): string {
  const known = VOCABULARY[path.join(".")];
  if (known) return known;
  const keys = path[path.length - 1] === "enable" && path.length > 1 ? path.slice(0, -1) : path;
  const out: string[] = [];
  for (const key of keys) {
    let w = words(key);
    // A key that starts with the words its parent ends with says them once.
    for (let n = Math.min(w.length - 1, out.length); n > 0; n--) {
      if (out.slice(-n).join(" ") === w.slice(0, n).join(" ")) {
        w = w.slice(n);
        break;
      }
    }
    out.push(...w);
  }
  const last = out.length - 1;
  if ((kind === "list" || kind === "json-list") && /[^s]s$/.test(out[last] ?? "")) out[last] = (out[last] as string).slice(0, -1);
  return `--${out.join("-")}`;
}

/** Before the naming rule a flag was the whole path in kebab case; that name stays as a deprecated alias. */
const formerName = (path: readonly string[]) => `--${path.map(kebab).join("-")}`;

/**
 * `--remote` takes a remote as JSON, or the short form `[name=]url` (name: origin, then remote2…).
 */
function remoteShorthand(v: string, i: number): unknown {
  const eq = v.indexOf("=");
  return eq > 0 && !v.slice(0, eq).includes("/") ? { name: v.slice(0, eq), url: v.slice(eq + 1) } : { name: i === 0 ? "origin" : `remote${i}`, url: v };
}

function walk(t: z.ZodTypeAny, path: string[], out: ConfigFlag[]): void {
  const u = unwrap(t);
  if (u instanceof z.ZodObject) {
    for (const [k, v] of Object.entries(u.shape as Record<string, z.ZodTypeAny>)) walk(v, [...path, k], out);
    return;
  }
  const scalar = scalarKind(u);
  const add = (kind: FlagKind, value: string) => {
    const flag = flagName(path, kind);
    const formerly = formerName(path) === flag ? [] : [formerName(path)];
    const same = out.find((f) => f.flag === flag);
    if (!same) return out.push({ flag, path, paths: [path], formerly, kind, value });
    // One flag for several keys (the channel): the vocabulary's first path is the one always set.
    if (same.kind !== kind) throw new Error(`agent flags: ${flag} names ${same.path.join(".")} and ${path.join(".")} of different kinds`);
    const order = Object.keys(VOCABULARY);
    same.paths = [...same.paths, path].sort((a, b) => order.indexOf(a.join(".")) - order.indexOf(b.join(".")));
    same.path = same.paths[0] as string[];
    same.formerly = [...same.formerly, ...formerly];
  };
  if (scalar) {
    add(scalar, u instanceof z.ZodEnum ? (u.options as string[]).join("|") : scalar === "boolean" ? "true|false" : scalar);
  } else if (u instanceof z.ZodArray) {
    const item = unwrap(u.element as z.ZodTypeAny);
    if (scalarKind(item)) add("list", `${scalarKind(item)} (repeatable)`);
    else add("json-list", path.join(".") === "remotes" ? "json or [name=]url (repeatable, one item each)" : "json (repeatable, one item each)");
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
      return values.map((v, i) => {
        if (f.path.join(".") === "remotes" && !v.trimStart().startsWith("{")) return remoteShorthand(v, i);
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
    out.push({ path: f.path, value: flagValue(f, raw as string | string[]), ...(f.paths.length > 1 ? { also: f.paths.slice(1) } : {}) });
  }
  return out;
}
