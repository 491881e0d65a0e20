import { UsageError } from "../core/errors.js";

/** What to deploy, before it is pinned: RFC R4.1 (latest release) and R5.1 (tag, branch, commit), plus a local tree. */
export type SourceSpec =
  | { kind: "latest" }
  | { kind: "tag"; tag: string }
  | { kind: "branch"; branch: string }
  | { kind: "commit"; commit: string }
  | { kind: "local"; path: string };

export interface SourceFlags {
  tag?: string;
  branch?: string;
  commit?: string;
  local?: string;
  ref?: string;
}

/** At most one of --tag, --branch, --commit, --local, --ref; none means the newest release. */
export function specFromFlags(f: SourceFlags): SourceSpec {
  const given = (["tag", "branch", "commit", "local", "ref"] as const).filter((k) => f[k] !== undefined);
  if (given.length > 1) throw new UsageError(`--${given.join(", --")} cannot be combined`, "name one source: a tag, a branch, a commit or a local tree");
  if (f.tag !== undefined) return { kind: "tag", tag: f.tag };
  if (f.branch !== undefined) return { kind: "branch", branch: f.branch };
  if (f.commit !== undefined) {
    if (!/^[0-9a-f]{4,40}$/i.test(f.commit)) throw new UsageError(`--commit ${JSON.stringify(f.commit)} is not a commit id`, "give a full or abbreviated hexadecimal commit id");
    return { kind: "commit", commit: f.commit };
  }
  if (f.local !== undefined) return { kind: "local", path: f.local };
  if (f.ref !== undefined) return { kind: "branch", branch: f.ref };
  return { kind: "latest" };
}

export function describeSpec(s: SourceSpec): string {
  switch (s.kind) {
    case "latest":
      return "the newest release";
    case "tag":
      return `tag ${s.tag}`;
    case "branch":
      return `branch ${s.branch}`;
    case "commit":
      return `commit ${s.commit}`;
    case "local":
      return `local tree ${s.path}`;
  }
}
