#!/usr/bin/env node
import("../dist/cli/main.js").then((m) => m.main(process.argv)).catch((err) => {
  console.error(`oscd: cannot start: ${err && err.message ? err.message : err}`);
  console.error("hint: run `npm run build` in the checkout first");
  process.exit(1);
});
