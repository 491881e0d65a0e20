#!/usr/bin/env bash
# Installs what is missing, then runs typecheck, lint and every test. Exits non-zero on any
# failure. Needs root: end-to-end tests run simulated NixOS hosts in Linux namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

oscd_need_root scripts/test.sh
oscd_install_debian_packages
oscd_install_node
oscd_install_npm_packages
oscd_nix_env
[ "${CI:-}" = true ] && oscd_clean_stale_hosts

echo "==> nix: $(nix --version)   git: $(git --version)   node: $(node --version)"
echo "==> typecheck"; npm run -s typecheck
echo "==> lint"; npm run -s lint
echo "==> build"; npm run -s build
export OSCD_DIST_READY=1
echo "==> tests"
report=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One plain closing line that any CI log reader understands.
node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))' "$report" || true
rm -f "$report"
exit $status
