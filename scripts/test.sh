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
summary() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${process.argv[2]}${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))' "$1" "$2" || true; }
# The end-to-end tests that read Nix's output and recognise its refusals, once more with a `nix`
# first on PATH (here, in simulated hosts and over SSH to them) that presents Nix 2.35's output
# shapes and wordings over the installed Nix: test/harness/nix-newer.ts. Only on a full run.
newer_report=""
if [ $# -eq 0 ]; then
  echo "==> end-to-end tests again under a newer Nix's output shapes (OSCD_TEST_NIX=newer)"
  newer_report=$(mktemp)
  OSCD_TEST_NIX=newer npx vitest run --reporter=default --reporter=json --outputFile.json="$newer_report" \
    test/e2e/nix-found.test.ts test/e2e/publish.test.ts test/e2e/bundle.test.ts test/e2e/inspect.test.ts \
    test/e2e/activate.test.ts test/e2e/image.test.ts test/e2e/deploy.test.ts || status=$?
fi
# One plain closing line per run that any CI log reader understands.
summary "$report" ""
[ -n "$newer_report" ] && summary "$newer_report" "under OSCD_TEST_NIX=newer: "
rm -f "$report" "$newer_report"
exit $status
