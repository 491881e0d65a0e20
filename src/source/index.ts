/** Resolve latest release | tag | branch | commit | local tree to an exact commit and a read-only store snapshot. */
export * from "./spec.js";
export * from "./snapshot.js";
export * from "./prepare.js";
