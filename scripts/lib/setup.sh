# Shared by scripts/test.sh and scripts/demo.sh: install what is missing, set up Nix for tests.
# Sourced, not run.

# postgresql: the control server's tests start throwaway clusters of their own (initdb + pg_ctl
# from /usr/lib/postgresql/*/bin, as the package's `postgres` user, loopback only; no system
# service is used). chromium: the dashboard's browser tests (headless, through playwright-core).
# sudo: push deploys by a non-root user with a sudo password (test/harness/sudo-user.ts).
# python3: the terminal test driver (test/harness/pty-answer.py) and test HTTP servers in hosts.
# zsh, fish: the tests run `oscd completion zsh|fish` scripts in the real shells.
OSCD_DEBIAN_PACKAGES=(nix-bin git openssh-server openssh-client iproute2 util-linux mount procps gnupg xz-utils ca-certificates postgresql chromium sudo python3 zsh fish)

oscd_need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "oscd: error[needs-root]: $1 needs root (it installs packages and makes network and mount namespaces for simulated hosts)" >&2
    echo "hint: run it as root, e.g. sudo $0" >&2
    exit 2
  fi
}

oscd_install_debian_packages() {
  local missing=()
  for p in "${OSCD_DEBIAN_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

oscd_install_npm_packages() {
  # A symlinked node_modules is an install shared with another checkout (git worktrees):
  # `npm ci` would empty the directory it points to under every other user of it.
  if [ -L node_modules ]; then
    [ -d node_modules/ ] && return 0
    echo "oscd: error[npm-packages]: node_modules is a symlink to a missing directory" >&2
    echo "hint: remove the symlink, or install the packages where it points" >&2
    exit 1
  fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "==> installing npm packages (npm ci)"
    npm ci --no-audit --no-fund
  fi
}

# Test settings for the machine's own store go through NIX_CONFIG, which Nix reads on top of
# /etc/nix/nix.conf: a machine that already has Nix set up keeps its configuration.
# `build-users-group =` runs builds as root itself (single-user Nix): Debian's nix-bin creates
# no nixbld group or build users, and a machine that has them keeps them untouched.
# Keep in step with test/harness/nix-env.ts.
oscd_nix_env() {
  export NIX_CONFIG=$'sandbox = false\nsubstituters =\nexperimental-features = nix-command flakes\nnarinfo-cache-negative-ttl = 0\nbuild-users-group ='
  mkdir -p /nix/var/nix/gcroots /nix/var/nix/profiles
}

# Simulated hosts left by a killed earlier run (CI machines are reused).
oscd_clean_stale_hosts() {
  pkill -KILL -f 'oscd-sim-.*/root' 2>/dev/null || true
  for ns in $(ip netns list 2>/dev/null | awk '/^oscd[0-9]+h[0-9]+/ {print $1}'); do ip netns del "$ns" 2>/dev/null || true; done
  for br in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '/oscdbr/ {print $2}'); do ip link del "$br" 2>/dev/null || true; done
  rm -rf /tmp/oscd-sim-* /tmp/oscd-fleet-* /tmp/oscd-ssh-* 2>/dev/null || true
}
