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
summary() { node -e 'const [file, label, pending] = process.argv.slice(1); const r = JSON.parse(require("fs").readFileSync(file, "utf8")); console.log(`${label}${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} ${pending}` : ""))' "$1" "$2" "$3" || true; }
unit_report=""
if [ $# -eq 0 ]; then
  # Two lanes side by side: the unit tests (no shared store, bridge or host) in a vitest of their
  # own beside the end-to-end and integration tests, whose files run one at a time. On two cores
  # this keeps the whole run well inside CI's 30 minutes. The unit lane's output follows the other's.
  unit_report=$(mktemp)
  unit_log=$(mktemp)
  npx vitest run --project unit --reporter=default --reporter=json --outputFile.json="$unit_report" >"$unit_log" 2>&1 &
  unit_pid=$!
  npx vitest run --project shared --reporter=default --reporter=json --outputFile.json="$report" || status=$?
  wait "$unit_pid" || status=$?
  echo "==> unit tests (run beside the tests above)"
  cat "$unit_log"
  rm -f "$unit_log"
else
  npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
fi
# The end-to-end tests that read Nix's output and recognise its refusals, once more with a `nix`
# first on PATH (here, in simulated hosts and over SSH to them) that presents Nix 2.35's output
# shapes and wordings over the installed Nix (test/harness/nix-newer.ts): path info of caches and
# closures, signing and copying, realising with oscd's own signature check and Nix's refusals,
# a cut copy, images, diffs. Only on a full run; the selection keeps the extra time small.
NEWER_FILES=(test/e2e/nix-found.test.ts test/e2e/publish.test.ts test/e2e/bundle.test.ts test/e2e/activate.test.ts test/e2e/inspect.test.ts test/e2e/image.test.ts test/e2e/deploy.test.ts)
NEWER_TESTS=(
  "the Nix oscd finds"
  "publishes three hosts" "tampered narinfo" "same commit again builds" "changes only that host" "foreign NAR"
  "oscd bundle"
  "realises a prebuilt toplevel" "refuses a path from an unsigned cache" "refuses a NAR whose bytes" "disk is full, before realising"
  "flake layout oscd option prints" "flake layout oscd diff" "flake layout oscd impact"
  "builds the host's images" "fetches them from the cache"
  "deploys ten hosts in parallel" "connection cut during the copy" "--diff shows, before activating"
)
newer_report=""
if [ $# -eq 0 ]; then
  echo "==> end-to-end tests again under a newer Nix's output shapes (OSCD_TEST_NIX=newer)"
  newer_report=$(mktemp)
  pattern=$(IFS='|'; echo "${NEWER_TESTS[*]}")
  OSCD_TEST_NIX=newer npx vitest run --reporter=default --reporter=json --outputFile.json="$newer_report" -t "$pattern" "${NEWER_FILES[@]}" || status=$?
  # A renamed test must not drop out of this run unseen: every name above has to have run.
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const ran = r.testResults.flatMap((f) => f.assertionResults).filter((a) => a.status === "passed" || a.status === "failed").map((a) => a.fullName); const lost = process.argv.slice(2).filter((n) => !ran.some((f) => f.includes(n))); if (lost.length) { console.error(`OSCD_TEST_NIX=newer: no test ran for ${lost.map((n) => JSON.stringify(n)).join(", ")}`); process.exit(1); }' "$newer_report" "${NEWER_TESTS[@]}" || status=1
fi
# One plain closing line per run that any CI log reader understands.
[ -n "$unit_report" ] && summary "$unit_report" "unit tests: " "skipped"
summary "$report" "$([ -n "$unit_report" ] && echo "end-to-end and integration tests: ")" "skipped"
[ -n "$newer_report" ] && summary "$newer_report" "under OSCD_TEST_NIX=newer: " "not selected for that run"
rm -f "$report" "$newer_report" "$unit_report"
exit $status
