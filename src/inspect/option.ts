import { z } from "zod";
import { hostAttribute, hostSystem, type Fleet } from "../fleet/index.js";
import { evalExprJson, type NixCallOptions, type NixSource } from "../nix/index.js";
import { BadOptionPathError, NoConfigAttributeError, OptionNotFoundError, UnknownHostError } from "./errors.js";
import { nearestNames } from "./nearest.js";

const TOPLEVEL_SUFFIX = ".system.build.toplevel";

/** The attribute path of a host's NixOS `config`: its toplevel attribute without `.system.build.toplevel`. */
export function configAttribute(fleet: Fleet, host: string): string {
  const attr = hostAttribute(fleet, host);
  if (!attr.endsWith(TOPLEVEL_SUFFIX) || attr.length === TOPLEVEL_SUFFIX.length) throw new NoConfigAttributeError(attr);
  return attr.slice(0, -TOPLEVEL_SUFFIX.length);
}

/** `services.nginx.enable` → its names; quoted parts (`users.users."alice.b"`) keep their dots. */
export function parseOptionPath(path: string): string[] {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(path)) throw new BadOptionPathError(path);
  const parts: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|([^."]+)/y;
  let i = 0;
  while (i < path.length) {
    re.lastIndex = i;
    const m = re.exec(path);
    if (!m) throw new BadOptionPathError(path);
    parts.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] as string));
    i = re.lastIndex;
    if (i < path.length) {
      if (path[i] !== "." || i === path.length - 1) throw new BadOptionPathError(path);
      i++;
    }
  }
  if (parts.length === 0 || parts.some((p) => p === "")) throw new BadOptionPathError(path);
  return parts;
}

/**
 * The Nix expression of a fleet's outputs: a flake's outputs, or the classic file called (when
 * it is a function) with the host's system, as the build stage calls it.
 */
export function rootExpr(source: NixSource, system: string): string {
  if (source.kind === "flake") return `(builtins.getFlake ${JSON.stringify(source.flakeRef)}).outputs`;
  const args = Object.entries(source.argstr ?? {}).map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)};`).join(" ");
  return `(let f = import (/. + ${JSON.stringify(source.file)}); in if builtins.isFunction f then f (builtins.intersectAttrs (builtins.functionArgs f) { system = ${JSON.stringify(system)}; ${args} }) else f)`;
}

// Walks the path one name at a time and stops at the first missing one, reporting the names at
// that level; values are made JSON-safe: functions and errors as markers, derivations as their
// output path, nesting cut at a depth, so a whole subtree (services.nginx) can be asked for.
const WALK = `
  walk = v: ps: depth:
    if ps == [ ] then { found = true; value = show 0 v; }
    else if builtins.isAttrs v && builtins.hasAttr (builtins.head ps) v then walk (builtins.getAttr (builtins.head ps) v) (builtins.tail ps) (depth + 1)
    else { found = false; inherit depth; names = if builtins.isAttrs v then builtins.attrNames v else [ ]; };
  show = d: v:
    let t = builtins.tryEval v; in
    if !t.success then { "_oscd" = "error"; }
    else if builtins.isFunction v then { "_oscd" = "function"; }
    else if builtins.isAttrs v then
      (if v ? outPath then toString v.outPath
       else if d >= 8 then { "_oscd" = "nested"; }
       else builtins.mapAttrs (_: show (d + 1)) v)
    else if builtins.isList v then map (show (d + 1)) v
    else if builtins.isPath v then toString v
    else v;`;

const walked = z.union([z.object({ found: z.literal(true), value: z.unknown() }), z.object({ found: z.literal(false), depth: z.number().int(), names: z.array(z.string()) })]);

export interface OptionQuery {
  source: NixSource;
  fleet: Fleet;
  host: string;
  path: string;
  /** How the ref is named in messages. */
  ref: string;
  nix?: NixCallOptions;
}

/** The value of `config.<path>` in a host's configuration, in one evaluation. */
export async function optionValue(q: OptionQuery): Promise<unknown> {
  const parts = parseOptionPath(q.path);
  const hostParts = configAttribute(q.fleet, q.host).split(".").filter((p) => p !== "");
  const all = [...hostParts, ...parts];
  const expr = `let root = ${rootExpr(q.source, hostSystem(q.fleet, q.host))}; ${WALK} in walk root [ ${all.map((p) => JSON.stringify(p)).join(" ")} ] 0`;
  const pure = q.source.kind === "flake" && (/[?&](rev|narHash)=/.test(q.source.flakeRef) || q.source.flakeRef.startsWith("/nix/store/"));
  const r = walked.parse(await evalExprJson(expr, { ...q.nix, impure: !pure }));
  if (r.found) return r.value;
  if (r.depth < hostParts.length) {
    // The host's own attribute is missing: suggest among the names where it should be.
    throw new UnknownHostError(q.host, q.ref, r.depth === hostParts.indexOf(q.host) ? nearestNames(q.host, r.names) : []);
  }
  const at = r.depth - hostParts.length;
  const existing = parts.slice(0, at).join(".");
  const missing = parts[at] as string;
  const suggestions = nearestNames(missing, r.names).map((n) => [...parts.slice(0, at), n].join("."));
  throw new OptionNotFoundError(parts.join("."), existing, suggestions);
}
