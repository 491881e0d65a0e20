/**
 * The CLI as the program runs it: dist/cli/main.js (tsc's output) and everything it imports,
 * bundled by esbuild into dist/bundle/, one file per command and per lazily loaded part, with
 * the modules they share in common chunks (`splitting`). bin/oscd.js starts dist/bundle/main.mjs.
 *
 * Why: an ES module costs Node a resolution (stat, realpath, the nearest package.json), a read
 * and a compilation of its own; `oscd status` loaded some 60 of them and `oscd activate` over
 * 100, several times the cost of starting Node itself. Bundled, `oscd status` loads 6 files and
 * `oscd activate` 8, and the per-user compile cache (bin/oscd.js) keeps their compiled code.
 *
 * The bundle is the same code: tsc's JavaScript, concatenated, with every dynamic import still
 * a separate chunk loaded when reached. Packages stay outside (resolved from node_modules at run
 * time) except the small pure ones every command start needs: the argument parser, the schema
 * library and the TOML reader. The others load files by path, carry native code or start
 * workers (better-sqlite3, pg, pino, fastify), and are needed only by commands that do more
 * than start. A package inlined here must not also be imported by an outside one at run time,
 * or it would exist twice (zod-to-json-schema imports only zod's types).
 *
 *   node scripts/build/bundle.ts        (npm run build runs it after tsc)
 */
import { build, type BuildOptions, type Metafile, type Plugin } from "esbuild";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");
const INLINED = new Set(["commander", "zod", "smol-toml"]);

/** Every bare import stays external but those of INLINED (node: built-ins are external anyway). */
const externalPackages: Plugin = {
  name: "external-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const name = args.path.startsWith("@") ? args.path.split("/").slice(0, 2).join("/") : args.path.split("/")[0];
      return name !== undefined && INLINED.has(name) ? undefined : { path: args.path, external: true };
    });
  },
};

/**
 * The names oscd's own modules (tsc's output under dist/) import from each built-in, by
 * `import { a, b as c } from "node:x"`; undefined for a built-in also imported whole (a
 * namespace or a default), whose every name is then offered.
 */
async function namesImported(dist: string): Promise<Map<string, Set<string> | undefined>> {
  const used = new Map<string, Set<string> | undefined>();
  const add = (mod: string, names: string[] | undefined) => {
    const key = mod.startsWith("node:") ? mod : `node:${mod}`;
    if (names === undefined || used.get(key) === undefined && used.has(key)) return void used.set(key, undefined);
    const set = used.get(key) ?? new Set<string>();
    for (const n of names) set.add(n);
    used.set(key, set);
  };
  for (const f of await readdir(dist, { recursive: true })) {
    if (!f.endsWith(".js") || f.startsWith("bundle/")) continue;
    const text = await readFile(join(dist, f), "utf8");
    for (const m of text.matchAll(/^import \{([^}]*)\} from "([^"]+)";$/gm)) {
      if (isBuiltin(m[2]!)) add(m[2]!, m[1]!.split(",").map((n) => n.trim().split(/\s+as\s+/)[0]!).filter(Boolean));
    }
    for (const m of text.matchAll(/^import (?:\* as )?[\w$]+(?:, \{[^}]*\})? from "([^"]+)";$|^export \*(?: as [\w$]+)? from "([^"]+)";$/gm)) {
      const mod = m[1] ?? m[2];
      if (mod !== undefined && isBuiltin(mod)) add(mod, undefined);
    }
  }
  return used;
}

/** What every function has of its own; anything else is hung on it (`realpathSync.native`). */
const FUNCTION_OWN = new Set(["length", "name", "prototype", "arguments", "caller"]);

/**
 * A module function that may be called through a wrapper: not a class, nothing hung on it. A
 * wrapper has none of a function's own properties: `realpathSync.native` through one was
 * undefined, and the /boot space check, which calls it, found no kernel to measure.
 */
function plainFunction(v: unknown): v is (...a: unknown[]) => unknown {
  if (typeof v !== "function") return false;
  const proto = (v as { prototype?: object }).prototype;
  const classLike = /^class\b/.test(Function.prototype.toString.call(v)) || (proto !== undefined && Object.getOwnPropertyNames(proto).length > 1);
  return !classLike && Object.getOwnPropertySymbols(v).length === 0 && Object.getOwnPropertyNames(v).every((n) => FUNCTION_OWN.has(n));
}

/**
 * Node's built-in modules, through `process.getBuiltinModule`. An ES import of a built-in
 * builds its ES namespace, which reads every export: node:fs's lazy ones load stream, readline
 * and fs/promises, node:http's undici (some 15 ms of CPU at every start for node:fs alone).
 * Here an import takes only the names oscd imports (namesImported), each function as a
 * wrapper that loads the module when first called: a module imported for one function on one
 * path (node:crypto for a random name) costs nothing where that path is not taken. Classes
 * and values are read when the importing module loads. A module that is itself a function or
 * an object with methods (node:events, node:process), and a `require` (commander's), take it
 * whole; a require gets an object whose names load the module when first read. The names are
 * this Node's, and the program is type-checked against the same Node's types.
 */
function builtinModules(used: Map<string, Set<string> | undefined>): Plugin {
  const whole = (real: unknown) => typeof real !== "object" || real === null || real === process || real === console;
  return {
    name: "builtin-modules",
    setup(b) {
      b.onResolve({ filter: /^[a-z0-9_:/]+$/ }, (args) => {
        if (!isBuiltin(args.path)) return undefined;
        // Loaded by Node when reached, as the program wrote it (a namespace it asked for).
        if (args.kind === "dynamic-import") return { path: args.path, external: true };
        const path = args.path.startsWith("node:") ? args.path : `node:${args.path}`;
        const asModule = args.kind === "import-statement" && used.get(path) !== undefined;
        return { path, namespace: asModule ? "oscd-builtin" : "oscd-builtin-cjs" };
      });
      b.onLoad({ filter: /.*/, namespace: "oscd-builtin" }, (args) => {
        const path = JSON.stringify(args.path);
        const real = process.getBuiltinModule(args.path) as Record<string, unknown>;
        const lines = [`let m;`, `const load = () => (m ??= process.getBuiltinModule(${path}));`];
        if (whole(real)) lines.push(`export default load();`);
        for (const n of used.get(args.path) ?? []) {
          if (n === "default") continue;
          const d = Object.getOwnPropertyDescriptor(real, n);
          if (!whole(real) && d && "value" in d && plainFunction(d.value)) lines.push(`export function ${n}(...a) { return load().${n}(...a); }`);
          else lines.push(`export const ${n} = load().${n};`);
        }
        return { contents: lines.join("\n"), loader: "js" };
      });
      b.onLoad({ filter: /.*/, namespace: "oscd-builtin-cjs" }, (args) => {
        const path = JSON.stringify(args.path);
        const real: unknown = process.getBuiltinModule(args.path);
        if (whole(real)) return { contents: `module.exports = process.getBuiltinModule(${path});`, loader: "js" };
        const names = Object.getOwnPropertyNames(real).filter((n) => n !== "__esModule");
        return {
          contents: `let m;
const load = () => (m ??= process.getBuiltinModule(${path}));
const lazy = {};
for (const n of ${JSON.stringify(names)}) Object.defineProperty(lazy, n, { get: () => load()[n], enumerable: true });
module.exports = lazy;`,
          loader: "js",
        };
      });
    },
  };
}

/** What a module imports statically, followed to the end (esbuild metafile input keys, relative to ROOT). */
function closure(meta: Metafile, from: string): Set<string> {
  const seen = new Set<string>();
  const walk = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const i of meta.inputs[f]?.imports ?? []) if (!i.external && (i.kind === "import-statement" || i.kind === "require-call")) walk(i.path);
  };
  walk(from);
  return seen;
}

/**
 * The layers of the start, each loaded as one chunk: what every start loads (dist/cli/main.js
 * and all it imports statically), then what `oscd status` adds, then what `oscd activate` adds
 * up to where it knows there is nothing to do (the engine's start, engine.js itself included:
 * its own file was one more dynamic import, some 2 ms of the loader's CPU). A command's own
 * module stays its own file.
 */
const MEMBERS = ["dist/activate/engine.js"];

function startLayers(meta: Metafile): Set<string>[] {
  const done = new Set<string>();
  const layer = (roots: string[], members: string[] = []) => {
    const l = new Set<string>();
    for (const r of [...roots, ...members]) for (const f of closure(meta, r)) if (!done.has(f) && !roots.includes(f)) l.add(f);
    for (const f of [...l, ...roots]) done.add(f);
    return l;
  };
  const main = layer([]);
  for (const f of closure(meta, MAIN)) if (!done.has(f)) main.add(f);
  for (const f of main) done.add(f);
  return [main, layer(["dist/cli/commands/status.js"]), layer(["dist/cli/commands/activate.js"], MEMBERS)];
}

/**
 * esbuild puts the modules reached from the same set of entry points (the program's and each
 * dynamic import's) in one chunk, so the ~40 modules every start loads came in a dozen files,
 * and `oscd activate` loaded 36, by which other commands also import each: every file costs
 * Node a resolution and a load. Here each of oscd's modules that statically reaches a module of
 * a start layer (startLayers) and is not in it also imports every module of the layer (appended
 * to its source as it is bundled), so every entry point reaching part of a layer reaches all of
 * it, and the layer is one chunk.
 * What runs is unchanged but for when some definitions load: a module of the first layer was
 * loaded by the start already; one of a later layer loads with the others of its layer. A
 * layer reaches nothing outside itself and the layers before it, so this makes no cycle.
 */
function layeredChunks(meta: Metafile, layers: Set<string>[]): Plugin {
  const own = (f: string) => f.startsWith("dist/") && f.endsWith(".js");
  const reach = new Map<string, Set<string>>();
  const reaches = (f: string) => reach.get(f) ?? reach.set(f, closure(meta, f)).get(f)!;
  return {
    name: "layered-chunks",
    setup(b) {
      b.onLoad({ filter: /\/dist\/.*\.js$/ }, async (args) => {
        const f = relative(ROOT, args.path);
        if (!own(f)) return undefined;
        // A member loaded on its own too (engine.js, imported dynamically) takes its whole layer.
        const wanted = layers.flatMap((l, i) => ((MEMBERS.includes(f) && l.has(f)) || (!l.has(f) && !layers.slice(0, i).some((e) => e.has(f)) && [...reaches(f)].some((g) => l.has(g))) ? [...l].filter((g) => g !== f) : []));
        if (wanted.length === 0) return undefined;
        // A package's modules and the built-ins follow the modules that import them (zod declares
        // itself free of side effects: a bare import of it would be dropped; each import of a
        // built-in costs a copy of its names).
        const imports = wanted.filter(own).map((g) => `import ${JSON.stringify(join(ROOT, g))};`);
        return { contents: `${await readFile(args.path, "utf8")}\n${imports.join("\n")}\n`, loader: "js" };
      });
    },
  };
}

const bundleDir = join(ROOT, "dist", "bundle");
// Built beside it (as deep, for the source maps' relative paths), then moved in: see the end.
const outdir = join(ROOT, "dist", `.bundle-${process.pid}`);
const MAIN = "dist/cli/main.js";
const USER_CACHE = "dist/core/user-cache.js";
const options: BuildOptions = {
  entryPoints: { main: join(ROOT, MAIN) },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node24",
  // .mjs: Node knows each file is an ES module without looking for the package.json above it.
  outExtension: { ".js": ".mjs" },
  // Stack traces and `--enable-source-maps` still name the files under dist/.
  sourcemap: "linked",
  // One folder, as deep as dist/cli/: main.ts finds package.json at ../../ from either.
  chunkNames: "[name]-[hash]",
  entryNames: "[name]",
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  absWorkingDir: ROOT,
};
const builtins = builtinModules(await namesImported(join(ROOT, "dist")));
// A first pass finds what the start loads; the second bundles it in layers.
const first = await build({ ...options, metafile: true, write: false, plugins: [builtins, externalPackages] });
const result = await build({ ...options, plugins: [layeredChunks(first.metafile, startLayers(first.metafile)), builtins, externalPackages] });
// bin/oscd.js finds the compile cache's folder with this before it loads the rest: one file of
// its own, whose own copy of the code shares nothing with the rest.
const userCache = await build({ ...options, entryPoints: { "user-cache": join(ROOT, USER_CACHE) }, splitting: false, plugins: [builtins, externalPackages] });
if (result.errors.length > 0 || userCache.errors.length > 0) process.exit(1);

// Each file is renamed over its old version, and only then are the files of an older build
// removed: an oscd started meanwhile (the tests run the CLI while others rebuild) never finds
// the folder empty. A build of the same sources names and fills every file the same, so it
// removes nothing a running oscd may still import.
await mkdir(bundleDir, { recursive: true });
const built = new Set(await readdir(outdir));
for (const f of built) await rename(join(outdir, f), join(bundleDir, f));
for (const f of await readdir(bundleDir)) if (!built.has(f)) await rm(join(bundleDir, f), { force: true });
await rm(outdir, { recursive: true, force: true });
