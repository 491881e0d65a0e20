#!/usr/bin/env bash
# Installs what is missing, then tells oscd's story on a demo fleet of three simulated NixOS
# hosts (Linux namespaces with their own Nix stores): the control server and its agents, a
# labelled release rolled out live, a host netbooting its signed system's kernel and initrd from
# the server by its token, a bad release halted at its canary and rolled back, and a push deploy
# with magic rollback. Needs root.
#   scripts/demo.sh            in a terminal: keeps running (dashboard up) until Ctrl-C
#   scripts/demo.sh --no-keep  ends and cleans up after the story (the default when piped)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

oscd_need_root scripts/demo.sh
oscd_install_debian_packages
oscd_install_node
oscd_install_npm_packages
oscd_nix_env
# OSCD_DIST_READY=1: dist/ is already built from this checkout (scripts/test.sh, the demo's test).
if [ "${OSCD_DIST_READY:-}" != 1 ]; then
  echo "==> building oscd"
  npm run -s build
  export OSCD_DIST_READY=1
fi
# node itself (not npx): Ctrl-C reaches the demo, which cleans up before the shell returns.
exec node --import tsx scripts/demo.ts "$@"
