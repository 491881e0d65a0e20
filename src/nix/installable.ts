/**
 * Where Nix expressions come from: a flake (`git+file:///src?rev=…`, a store path, a path)
 * or a classic file with `--argstr` arguments. Attribute paths are relative to either.
 */
export type NixSource =
  | { kind: "flake"; flakeRef: string }
  | { kind: "file"; file: string; argstr?: Record<string, string> };

/** The arguments that name `attrs` of `source` on a `nix build|eval|path-info` command line. */
export function installableArgs(source: NixSource, attrs: readonly string[]): string[] {
  if (source.kind === "flake") return attrs.map((a) => `${source.flakeRef}#${a}`);
  const argstr = Object.entries(source.argstr ?? {}).flatMap(([k, v]) => ["--argstr", k, v]);
  return ["--file", source.file, ...argstr, ...attrs];
}

export function describeSource(source: NixSource): string {
  return source.kind === "flake" ? source.flakeRef : source.file;
}
