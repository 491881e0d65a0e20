/**
 * docs/fleet-file.md, the oscd.toml reference, generated from the fleet file's JSON Schema (the
 * zod schema in src/fleet/schema.ts) and the prose in fleet-descriptions.ts.
 *
 *   npm run docs:fleet            writes docs/fleet-file.md
 *   npm run docs:fleet -- --check exits 1 when the committed page differs
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fleetJsonSchema } from "../../src/fleet/index.js";
import { FLEET_DESCRIPTIONS, TABLE_INTROS } from "./fleet-descriptions.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const FLEET_PAGE = resolve(ROOT, "docs/fleet-file.md");

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  format?: string;
  allOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  minLength?: number;
  maxLength?: number;
}

interface Row {
  key: string;
  type: string;
  default: string;
  rule: string;
}

const isTable = (s: JsonSchema) => s.type === "object";

function typeOf(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(typeOf).join(" or ");
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  if (s.type === "array") {
    const item = s.items === undefined ? "values" : s.items.type === "object" ? "tables" : s.items.type === "array" ? typeOf(s.items).replace(/^array of /, "arrays of ") : `${typeOf(s.items)}s`;
    return `array of ${item}`;
  }
  return s.type ?? "any";
}

function ruleOf(s: JsonSchema): string {
  const rules: string[] = [];
  const patterns = [s.pattern, ...(s.allOf ?? []).map((a) => a.pattern)].filter((p): p is string => p !== undefined);
  for (const p of patterns) rules.push(`matches \`${p.replace(/\|/g, "\\|")}\``);
  if (s.format) rules.push(`a ${s.format}`);
  if (s.minimum !== undefined) rules.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) rules.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) rules.push(`≤ ${s.maximum}`);
  if (s.minLength !== undefined) rules.push(`at least ${s.minLength} character(s)`);
  if (s.maxLength !== undefined) rules.push(`at most ${s.maxLength} characters`);
  if (s.minItems !== undefined) rules.push(`at least ${s.minItems} item(s)`);
  if (s.items && s.type === "array") rules.push(...ruleOf(s.items).split("; ").filter(Boolean).map((r) => `each ${r}`));
  return rules.join("; ");
}

/** The tables of the reference, in schema order: a section per TOML table, a row per key. */
function sections(root: JsonSchema): { table: string; rows: Row[] }[] {
  const out: { table: string; rows: Row[] }[] = [{ table: "", rows: [] }];
  const walk = (s: JsonSchema, path: string[], section: { table: string; rows: Row[] }): void => {
    const children: [string, JsonSchema][] = Object.entries(s.properties ?? {});
    // Tables of named entries: hosts and channels by name, a host's secrets by key.
    if (typeof s.additionalProperties === "object") children.push([path.at(-1) === "keys" ? "<key>" : "<name>", s.additionalProperties]);
    for (const [name, child] of children) {
      const key = [...path, name].join(".").replace(/\.\[\]/g, "[]");
      const objectItems = child.type === "array" && child.items && isTable(child.items);
      if (isTable(child)) {
        const sub = { table: key, rows: [] as Row[] };
        out.push(sub);
        walk(child, [...path, name], sub);
      } else {
        section.rows.push({ key, type: typeOf(child), default: defaultOf(key, child), rule: objectItems ? "" : ruleOf(child) });
        if (objectItems) walk(child.items!, [...path, name, "[]"], section);
      }
    }
  };
  walk(root, [], out[0]!);
  return out.filter((s) => s.rows.length > 0 || TABLE_INTROS[s.table] !== undefined);
}

function defaultOf(key: string, s: JsonSchema): string {
  // A host's health keys are optional overrides: unset, the fleet's value applies.
  if (/^hosts\.<name>\.health\.[A-Za-z]+$/.test(key)) return `the fleet's \`${key.slice("hosts.<name>.".length)}\``;
  return s.default === undefined ? "" : `\`${JSON.stringify(s.default)}\``;
}

/** The example at the end of the page (a test parses it with the real fleet-file parser). */
export function fleetExample(page: string): string {
  return page.slice(page.indexOf("```toml\n") + 8, page.lastIndexOf("```"));
}

export async function renderFleetReference(descriptions: Record<string, string> = FLEET_DESCRIPTIONS): Promise<string> {
  const FLEET_DESCRIPTIONS = descriptions;
  const schema = (await fleetJsonSchema()) as { definitions: { oscd: JsonSchema } };
  const all = sections(schema.definitions.oscd);
  const keys = all.flatMap((s) => s.rows.map((r) => r.key));
  const undocumented = keys.filter((k) => FLEET_DESCRIPTIONS[k] === undefined);
  const stale = Object.keys(FLEET_DESCRIPTIONS).filter((k) => !keys.includes(k));
  if (undocumented.length > 0 || stale.length > 0) {
    throw new Error(`scripts/docs/fleet-descriptions.ts: ${undocumented.length ? `no description for ${undocumented.join(", ")}` : ""}${undocumented.length && stale.length ? "; " : ""}${stale.length ? `no such key: ${stale.join(", ")}` : ""}`);
  }
  const cell = (s: string) => s.replace(/\n/g, " ");
  const parts = [
    "# oscd.toml reference",
    "",
    "<!-- Generated by `npm run docs:fleet` from src/fleet/schema.ts and scripts/docs/fleet-descriptions.ts; do not edit. -->",
    "",
    "`oscd.toml` sits at the root of the fleet repository. Every table has defaults, so a flake with",
    "nothing else is a fleet; a key oscd does not know is an error (`fleet-config`, exit 2), and so is",
    "a `__proto__` key or nesting deeper than 32 levels. `oscd init` writes a starting file, and",
    "`oscd schema` prints the JSON Schema this page is made from (editors read it through a",
    "`#:schema ./oscd.schema.json` first line). Host and channel names have letters, digits, `-` and",
    "`_`, start with a letter or digit, have at most 100 characters and are not names every object",
    "has (`constructor`, `toString`, …).",
    "",
    "The file is read from the commit being built or upgraded to, never from a working tree, so what",
    "is built is exactly that commit.",
  ];
  for (const s of all) {
    parts.push("", s.table === "" ? "## Top level" : `## \`[${s.table}]\``, "");
    if (TABLE_INTROS[s.table]) parts.push(TABLE_INTROS[s.table]!);
    if (s.rows.length === 0) continue;
    if (TABLE_INTROS[s.table]) parts.push("");
    parts.push("| key | type | default | what it does |", "|---|---|---|---|");
    for (const r of s.rows) {
      const what = [FLEET_DESCRIPTIONS[r.key]!, r.rule ? `Must: ${r.rule}.` : ""].filter(Boolean).join(" ");
      parts.push(`| \`${r.key}\` | ${r.type} | ${r.default} | ${cell(what)} |`);
    }
  }
  parts.push(
    "",
    "## Example",
    "",
    "```toml",
    'caches = ["file:///srv/nix-cache"]',
    "",
    "[release]",
    'branch = "main"',
    'versionFile = "VERSION"',
    "",
    "[keys]",
    'trusted = ["fleet-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]',
    "",
    "[health]",
    'commands = [["systemctl", "is-active", "nginx"]]',
    'http = [{ url = "http://localhost/health", status = 200 }]',
    "",
    "[hosts.web1]",
    'tags = ["web"]',
    'ssh = "root@10.0.0.5"',
    "",
    "[hosts.web1.keys.api-token]",
    'file = "secrets/api-token"',
    'owner = "nginx"',
    "```",
    "",
  );
  return parts.join("\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const page = await renderFleetReference();
  if (process.argv.includes("--check")) {
    const committed = await readFile(FLEET_PAGE, "utf8").catch(() => "");
    if (committed !== page) {
      process.stderr.write("docs/fleet-file.md is out of date: run npm run docs:fleet\n");
      process.exitCode = 1;
    }
  } else {
    await writeFile(FLEET_PAGE, page);
    process.stdout.write(`wrote ${FLEET_PAGE}\n`);
  }
}
