#!/usr/bin/env bash
# Runs the whole test suite: type check, unit and client tests, the compiled binary against a
# fake API server, and the end-to-end suites against a real Kubernetes control plane.
# Ends with one "N passed, N failed" line summing every bun test run.
set -uo pipefail
cd "$(dirname "$0")/.."

BUN=./node_modules/.bin/bun
if [ ! -x "$BUN" ]; then
  echo "test: node_modules is missing; running npm ci" >&2
  npm ci || exit 1
fi

passed=0
failed=0
status=0

# Runs one bun test invocation and adds its pass and fail counts to the totals.
run_suite() {
  local name=$1
  shift
  echo "=== $name"
  local log
  log=$(mktemp)
  "$BUN" test "$@" 2>&1 | tee "$log"
  local code=${PIPESTATUS[0]}
  local p f
  p=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | tr -dc '0-9')
  f=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | tr -dc '0-9')
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$code" -ne 0 ]; then
    status=1
    # A suite that crashed before reporting counts as one failure.
    [ -z "$f" ] || [ "$f" -eq 0 ] && failed=$((failed + 1))
  fi
  rm -f "$log"
}

echo "=== type check"
if ! ./node_modules/.bin/tsc --noEmit -p tsconfig.json; then
  status=1
  failed=$((failed + 1))
fi

run_suite "unit tests" test/unit test/kube test/fake-kube

echo "=== build"
if ! npm run --silent build; then
  echo "test: npm run build failed" >&2
  status=1
  failed=$((failed + 1))
fi

run_suite "binary against the fake API server" --timeout 60000 test/e2e

echo "=== control plane binaries"
# A cold build takes about 6 minutes on 2 cores; later runs reuse the cache.
if bin_dir=$(bash scripts/build-control-plane.sh | tail -n 1) && [ -x "$bin_dir/kube-apiserver" ]; then
  export CPA_CONTROL_PLANE_BIN="$bin_dir"
  run_suite "real control plane" --timeout 300000 test/controlplane test/real
else
  echo "test: the control plane could not be built, so the end-to-end suites against a real API server cannot run; see the build output above" >&2
  status=1
  failed=$((failed + 1))
fi

echo "${passed} passed, ${failed} failed"
exit "$status"
