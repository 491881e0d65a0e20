import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { run } from "../../../src/core/exec.js";
import { REPO_ROOT } from "../../harness/oscd.js";

/**
 * The README's two commands on a fresh Debian machine: Debian's nix-bin creates no `nixbld`
 * group or build users. This runs the setup step of scripts/lib/setup.sh in a mount namespace
 * whose /etc/group and /etc/passwd are copies without any nixbld entries (and without the
 * caller's NIX_CONFIG), then builds a derivation no one has built before, as root.
 */
const script = String.raw`
set -euo pipefail
tmp=$(mktemp -d)
grep -v '^nixbld' /etc/group > "$tmp/group"
grep -v '^nixbld' /etc/passwd > "$tmp/passwd"
mount --bind "$tmp/group" /etc/group
mount --bind "$tmp/passwd" /etc/passwd
if getent group nixbld >/dev/null; then echo "nixbld still visible" >&2; exit 90; fi
cd "$REPO_ROOT"
. scripts/lib/setup.sh
oscd_nix_env
nix-build --no-out-link -E "derivation { name = \"oscd-fresh-$MARKER\"; system = builtins.currentSystem; builder = \"/bin/sh\"; args = [ \"-c\" \"echo $MARKER > \$out\" ]; }"
`;

describe("a fresh machine (no nixbld group)", () => {
  it("the setup step makes a root Nix build work", async () => {
    const marker = randomBytes(8).toString("hex");
    const r = await run("unshare", ["--mount", "--propagation", "private", "bash", "-c", script], {
      timeoutMs: 120_000,
      env: { REPO_ROOT, MARKER: marker, NIX_CONFIG: undefined },
    });
    expect(r.stderr).not.toContain("nixbld still visible");
    expect(r.exitCode, r.stderr).toBe(0);
    const out = r.stdout.trim().split("\n").pop() ?? "";
    expect(out).toMatch(new RegExp(`^/nix/store/[a-z0-9]{32}-oscd-fresh-${marker}$`));
    const built = await run("cat", [out], { timeoutMs: 10_000 });
    expect(built.stdout.trim()).toBe(marker);
  });

});
