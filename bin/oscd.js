#!/usr/bin/env node
// Node's built-ins through getBuiltinModule, not an ES import: importing node:fs as an ES module
// reads every export, and its lazy ones load streams and readline (scripts/build/bundle.ts).
const { readFileSync } = process.getBuiltinModule("node:fs");

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // A closed pipe (`oscd --version | head -c1`) ends the output, not the program with a stack
  // trace. The CLI itself does the same (src/cli/output.ts), without making process.stdout when
  // it has nothing to write through it.
  process.stdout.on("error", (err) => {
    if (err && err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
  // The version alone needs neither the argument parser nor any command: answer at once.
  process.stdout.write(`${JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version}\n`);
} else {
  start().catch((err) => {
    console.error(`oscd: cannot start: ${err && err.message ? err.message : err}`);
    console.error("hint: run `npm run build` in the checkout first");
    process.exit(1);
  });
}

/**
 * The bundled CLI (dist/bundle/, scripts/build/bundle.ts): a command loads a few files rather
 * than a hundred modules. Node keeps their compiled code in the user's own cache folder
 * (src/core/user-cache.ts) for the next start, unless NODE_COMPILE_CACHE already chose one or
 * NODE_DISABLE_COMPILE_CACHE is set; without a safe folder it compiles them every time.
 */
async function start() {
  const module = process.getBuiltinModule("node:module");
  // Node 22.1 and later (oscd still starts on an older Node, without the cache).
  if (!process.env.NODE_DISABLE_COMPILE_CACHE && module.enableCompileCache && module.getCompileCacheDir?.() === undefined) {
    const { userCacheDir } = await import("../dist/bundle/user-cache.mjs");
    const dir = userCacheDir();
    if (dir) {
      try {
        module.enableCompileCache(`${dir}/compile`);
      } catch {
        // a cache is an optimisation: oscd runs the same without it
      }
    }
  }
  const { main } = await import("../dist/bundle/main.mjs");
  await main(process.argv);
}
