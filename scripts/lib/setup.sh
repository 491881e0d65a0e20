# Shared by scripts/test.sh and scripts/demo.sh: install what is missing, set up Nix for tests.
# Sourced, not run.

# postgresql: the control server's tests start throwaway clusters of their own (initdb + pg_ctl
# from /usr/lib/postgresql/*/bin, as the package's `postgres` user, loopback only; no system
# service is used). chromium: the dashboard's browser tests (headless, through playwright-core).
# sudo: push deploys by a non-root user with a sudo password (test/harness/sudo-user.ts).
# python3: the terminal test driver (test/harness/pty-answer.py) and test HTTP servers in hosts.
# zsh, fish: the tests run `oscd completion zsh|fish` scripts in the real shells.
# gcc, libseccomp-dev, systemd: the agent runs under the NixOS unit's system call filter
# (test/harness/syscall-filter.ts: systemd-analyze lists the groups, libseccomp applies them).
OSCD_DEBIAN_PACKAGES=(nix-bin git openssh-server openssh-client iproute2 util-linux mount procps gnupg xz-utils ca-certificates postgresql chromium sudo python3 zsh fish gcc libseccomp-dev systemd)

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

# oscd runs on Node 24 LTS (Node 20 reached end of life on 2026-04-30). Where the machine's node
# is older, the official Node binary and headers are taken from the npm registry's
# node-linux-<arch> package (what the registry's `node` package installs), checked against the
# integrity pinned here, unpacked under /opt/oscd and put first on PATH. Its headers serve
# node-gyp, so better-sqlite3 builds from source against the Node that runs it.
OSCD_NODE_VERSION=24.22.3
OSCD_NODE_DIR_BASE=${OSCD_NODE_DIR_BASE:-/opt/oscd}
declare -A OSCD_NODE_INTEGRITY=(
  [x64]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
  [arm64]=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==
)

oscd_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

oscd_install_node() {
  if [ "$(oscd_node_major)" -ge 24 ]; then
    # A Node 24 from elsewhere: node-gyp needs its own headers, not the ones npmrc may name.
    local prefix; prefix=$(node -p 'require("path").resolve(process.execPath, "../..")')
    [ -f "$prefix/include/node/node.h" ] && export npm_config_nodedir="$prefix"
    return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "oscd: error[node-missing]: Node 24 is needed and no build is pinned for $(uname -m)" >&2
       echo "hint: install Node 24 LTS and put it first on PATH" >&2; exit 1 ;;
  esac
  local dir="$OSCD_NODE_DIR_BASE/node-v$OSCD_NODE_VERSION-linux-$arch"
  if [ ! -x "$dir/bin/node" ]; then
    command -v npm >/dev/null || { echo "oscd: error[node-missing]: Node 24 is needed and there is no npm to fetch it" >&2; echo "hint: install Node 24 LTS and put it first on PATH" >&2; exit 1; }
    echo "==> installing Node $OSCD_NODE_VERSION (node-linux-$arch) under $OSCD_NODE_DIR_BASE"
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$OSCD_NODE_VERSION" >/dev/null)
    local tgz="$tmp/node-linux-$arch-$OSCD_NODE_VERSION.tgz" got
    got=$(node -e 'const c=require("crypto"),f=require("fs");console.log("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
    if [ "$got" != "${OSCD_NODE_INTEGRITY[$arch]}" ]; then
      rm -rf "$tmp"
      echo "oscd: error[node-integrity]: node-linux-$arch@$OSCD_NODE_VERSION does not match the integrity pinned in scripts/lib/setup.sh" >&2
      echo "hint: nothing was installed; check the registry the machine uses" >&2
      exit 1
    fi
    mkdir -p "$OSCD_NODE_DIR_BASE" "$tmp/unpacked"
    tar -xzf "$tgz" -C "$tmp/unpacked" --strip-components=1
    rm -rf "$dir" && mv "$tmp/unpacked" "$dir"
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  export npm_config_nodedir="$dir"
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
  # Native addons are built for one Node ABI: a node_modules from another Node is reinstalled.
  local abi; abi=$(node -p process.versions.modules)
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ "$(cat node_modules/.oscd-node-abi 2>/dev/null)" != "$abi" ]; then
    echo "==> installing npm packages (npm ci)"
    npm ci --no-audit --no-fund
    echo "$abi" > node_modules/.oscd-node-abi
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
