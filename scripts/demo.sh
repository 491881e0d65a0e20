#!/usr/bin/env bash
# Installs what is missing, then runs oscd end to end on a built-in demo fleet of simulated
# NixOS hosts (Linux namespaces with their own Nix stores). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

oscd_need_root scripts/demo.sh
oscd_install_debian_packages
oscd_install_npm_packages
oscd_nix_env
npm run -s build
exec npx tsx scripts/demo.ts "$@"
