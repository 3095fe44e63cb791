#!/usr/bin/env bash
# Statement counts must depend on a query's shape only, never on scheduling:
# run the statement-count tests N times (default 50) at -race -cpu 1,2,4
# while one spinning process per CPU keeps every core busy.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
go test -race -c -o /tmp/savvysolve-api.test ./internal/api/
spinners=()
for _ in $(seq "$(nproc)"); do (while :; do :; done) & spinners+=($!); done
trap 'kill "${spinners[@]}" 2>/dev/null || true' EXIT
cd internal/api
start=$(date +%s)
/tmp/savvysolve-api.test -test.count="$n" -test.cpu=1,2,4 \
  -test.run '^(TestNoNPlusOne|TestHistoryBatching|TestUncountedPage|TestPaymentStatements|TestViewerCachePointLookup|TestFanOutStatements)$'
echo "passed $n times at -cpu 1,2,4 with every core busy, in $(( $(date +%s) - start )) s"
