import { TEST_NIX_CONFIG } from "./harness/nix-env.js";

// The test machine's own store: no sandbox, no outside substituters (see harness/nix-env.ts).
process.env.NIX_CONFIG = TEST_NIX_CONFIG;
