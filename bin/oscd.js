#!/usr/bin/env node
import { readFileSync } from "node:fs";

// A closed pipe (`oscd … | head`) ends the output, not the program with a stack trace.
process.stdout.on("error", (err) => {
  if (err && err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // The version alone needs neither the argument parser nor any command: answer at once.
  process.stdout.write(`${JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version}\n`);
} else {
  import("../dist/cli/main.js").then((m) => m.main(process.argv)).catch((err) => {
    console.error(`oscd: cannot start: ${err && err.message ? err.message : err}`);
    console.error("hint: run `npm run build` in the checkout first");
    process.exit(1);
  });
}
