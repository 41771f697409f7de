#!/usr/bin/env bash
# Runs every test file in the workspace with Node's own test runner. Node 20 does not
# expand globs for --test, so the shell lists the files. TypeScript runs through tsx, and
# the "source" export condition makes workspace packages resolve to their src/ (no build
# needed for tests). Pass file paths to run only those.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then files=("$@"); else
  mapfile -t files < <(ls packages/*/test/*.test.ts test/compat/*.test.ts 2>/dev/null | sort)
fi
exec node --conditions=source --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-1}" "${files[@]}"
