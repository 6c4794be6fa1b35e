#!/usr/bin/env bash
# Runs every *.test.ts beside the code it tests with node's built-in test runner (tsx loader).
# Extra arguments narrow the run to files whose path contains one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find shared services scripts e2e deploy -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
if [ "$#" -gt 0 ]; then
  sel=()
  for f in "${files[@]}"; do for pat in "$@"; do [[ "$f" == *"$pat"* ]] && { sel+=("$f"); break; }; done; done
  files=("${sel[@]}")
fi
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-reporter=spec "${files[@]}"
