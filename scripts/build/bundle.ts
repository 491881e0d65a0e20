/**
 * The CLI as the program runs it: dist/cli/main.js (tsc's output) and everything it imports,
 * bundled by esbuild into dist/bundle/, one file per command and per lazily loaded part, with
 * the modules they share in common chunks (`splitting`). bin/oscd.js starts dist/bundle/main.js.
 *
 * Why: an ES module costs Node a resolution (stat, realpath, the nearest package.json), a read
 * and a compilation of its own; `oscd status` loaded some 60 of them and `oscd activate` over
 * 100, several times the cost of starting Node itself. Bundled, a command loads a handful of
 * files, and the per-user compile cache (bin/oscd.js) skips their compilation the next time.
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
import { build, type Plugin } from "esbuild";
import { rm } from "node:fs/promises";
import { builtinModules as nodeBuiltins } from "node:module";
import { join } from "node:path";

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
 * Node's built-in modules as CommonJS modules that load the real one (`process.getBuiltinModule`)
 * when a name is first used. An ES import of a built-in builds its ES namespace, which reads
 * every export: node:fs's lazy ones load stream, readline and fs/promises, node:http's undici
 * (some 15 ms of CPU at every start for node:fs alone). And a module imported for one function
 * on one path (node:crypto for a random name, node:child_process for commander's external
 * subcommands) costs nothing where that path is not taken. Its names are this Node's: the
 * program is type-checked against the same Node's types, so it uses none another lacks.
 */
const builtinModules: Plugin = {
  name: "builtin-modules",
  setup(b) {
    const builtins = new Set(nodeBuiltins);
    b.onResolve({ filter: /^[a-z0-9_:/]+$/ }, (args) => {
      const name = args.path.startsWith("node:") ? args.path : `node:${args.path}`;
      if (!builtins.has(args.path) && !builtins.has(name.slice(5))) return undefined;
      return { path: name, namespace: "oscd-builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "oscd-builtin" }, (args) => {
      const path = JSON.stringify(args.path);
      const real: unknown = process.getBuiltinModule(args.path);
      // A module that is itself a function or an object with methods (node:events is
      // EventEmitter, node:process is process) is handed over whole, at once.
      if (typeof real !== "object" || real === null || real === process || real === console) return { contents: `module.exports = process.getBuiltinModule(${path});`, loader: "js" };
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

const outdir = join(ROOT, "dist", "bundle");
await rm(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: join(ROOT, "dist", "cli", "main.js"), "user-cache": join(ROOT, "dist", "core", "user-cache.js") },
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
  plugins: [builtinModules, externalPackages],
});
if (result.errors.length > 0) process.exit(1);
