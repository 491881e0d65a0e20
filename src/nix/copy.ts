import { OscdError } from "../core/errors.js";
import { lastErrorLine, nixRun, NixCommandError, type NixCallOptions } from "./command.js";
import { connectionLost, storeUnreachable, untrustedSubstitute } from "./messages.js";
import { assertStorePath } from "./storepath.js";

export interface CopyOptions extends NixCallOptions {
  /** Signatures are checked unless this is set to false by an explicit user choice. */
  checkSigs?: boolean;
  /** Let the destination fetch what it can from its own substituters. */
  substituteOnDestination?: boolean;
  /** SSH options for ssh:// and ssh-ng:// stores (NIX_SSHOPTS; Nix splits them on spaces). */
  sshOpts?: readonly string[];
}

const STORE_URL = /^(file|ssh|ssh-ng|http|https|s3|local|daemon):\/\//;

export class StoreUrlError extends OscdError {
  constructor(url: string) {
    super("bad-store-url", `${JSON.stringify(url)} is not a Nix store URL`, {
      hint: "use file:///path, ssh://host, ssh-ng://host, http(s)://host or s3://bucket",
      exitCode: 2,
    });
  }
}

export class StoreUnreachableError extends OscdError {
  constructor(readonly url: string, detail: string) {
    super("store-unreachable", `cannot reach the store ${url}: ${detail}`, {
      hint: "check the address, credentials and that the store exists (for ssh: that the host runs sshd and has Nix)",
    });
  }
}

/**
 * The connection to the other store ended while the copy ran (Nix 2.8's "unexpected
 * end-of-file", 2.20's "Nix daemon disconnected unexpectedly", a broken pipe, ssh's "closed by
 * remote host"). Nix registers a path only once it arrived whole, so nothing half-copied is
 * valid at the destination.
 */
export class CopyInterruptedError extends OscdError {
  constructor(
    readonly url: string,
    readonly lost: string,
  ) {
    super("copy-interrupted", `the connection to ${url} ended during the copy: ${lost}`, {
      hint: "check the network to the store and copy again: paths that arrived whole are kept and not sent again",
    });
  }
}

export function checkStoreUrl(url: string): string {
  if (!STORE_URL.test(url)) throw new StoreUrlError(url);
  return url;
}

function copyEnv(opts: CopyOptions): Record<string, string | undefined> | undefined {
  if (!opts.sshOpts) return opts.env;
  for (const o of opts.sshOpts) {
    if (/\s/.test(o)) throw new OscdError("bad-ssh-option", `SSH option ${JSON.stringify(o)} contains a space, which NIX_SSHOPTS cannot carry`, { exitCode: 2 });
  }
  return { ...opts.env, NIX_SSHOPTS: opts.sshOpts.join(" ") };
}

async function copy(direction: "--to" | "--from", url: string, paths: readonly string[], opts: CopyOptions): Promise<void> {
  checkStoreUrl(url);
  paths.forEach(assertStorePath);
  if (paths.length === 0) return;
  const args = ["copy", direction, url];
  if (opts.checkSigs === false) args.push("--no-check-sigs");
  if (opts.substituteOnDestination) args.push("--substitute-on-destination");
  const r = await nixRun("nix", [...args, ...paths], { timeoutMs: 3_600_000, ...opts, env: copyEnv(opts) });
  if (r.exitCode === 0) return;
  const err = r.stderr;
  const unreachable = storeUnreachable(err);
  const lost = connectionLost(err);
  // Ended after it was open (no word of failing to connect): the copy was cut, not refused.
  if (lost && !unreachable) throw new CopyInterruptedError(url, lost);
  if (unreachable || lost) throw new StoreUnreachableError(url, lastErrorLine(err) || unreachable || lost || "");
  if (untrustedSubstitute(err)) {
    throw new NixCommandError("path-not-trusted", r, `copying ${direction === "--to" ? "to" : "from"} ${url}`, "sign the paths with a key the destination trusts", 3);
  }
  throw new NixCommandError("nix-copy-failed", r, `copying ${paths.length} path(s) ${direction === "--to" ? "to" : "from"} ${url}`);
}

/** `nix copy --to URL` the closures of `paths`. */
export async function copyTo(url: string, paths: readonly string[], opts: CopyOptions = {}): Promise<void> {
  return copy("--to", url, paths, opts);
}

/** `nix copy --from URL` the closures of `paths` into the local store. */
export async function copyFrom(url: string, paths: readonly string[], opts: CopyOptions = {}): Promise<void> {
  return copy("--from", url, paths, opts);
}
