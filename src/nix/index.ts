/** Typed adapters over the real Nix binaries, and Nix-format keys and narinfos. */
export * from "./command.js";
export * from "./version.js";
export * from "./storepath.js";
export * from "./installable.js";
export * from "./evaluate.js";
export * from "./build.js";
export * from "./gcroots.js";
export * from "./add.js";
export * from "./realise.js";
export * from "./copy.js";
export * from "./pathinfo.js";
export * from "./sign.js";
export * from "./profile.js";
export * from "./keys.js";
export * from "./narinfo.js";
export * from "./untrusted.js";
export * from "./narhash.js";
