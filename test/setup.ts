import { TEST_NIX_CONFIG } from "./harness/nix-env.js";
import { withNewerNix } from "./harness/nix-newer.js";

// The test machine's own store: no sandbox, no outside substituters (see harness/nix-env.ts).
process.env.NIX_CONFIG = TEST_NIX_CONFIG;

// OSCD_TEST_NIX=newer: every Nix call of the tests and of the oscd they start goes through the
// wrapper that presents a newer Nix's shapes (harness/nix-newer.ts).
process.env.PATH = withNewerNix(process.env.PATH ?? "/usr/bin:/bin");
