/**
 * Nix settings for the test machine's own store (the "build machine"): no sandbox (Debian's
 * Nix cannot), nothing substituted from outside, the new CLI on. Given through NIX_CONFIG so
 * a machine that already has Nix configured is left as it is. Builds run as root without build
 * users (`build-users-group =`): Debian's nix-bin creates no nixbld group. Keep in step with
 * scripts/lib/setup.sh.
 */
export const TEST_NIX_CONFIG = ["sandbox = false", "substituters =", "experimental-features = nix-command flakes", "narinfo-cache-negative-ttl = 0", "build-users-group ="].join("\n");

export function testNixEnv(): Record<string, string> {
  return { NIX_CONFIG: TEST_NIX_CONFIG };
}
