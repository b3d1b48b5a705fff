#!/usr/bin/env bash
# Checks every sample trace against its golden with the command-line tool (what CI's test suite
# also does through TraceRegressionTests). Exit 1 if any counter changed.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product vmreplay >/dev/null
bin=.build/release/vmreplay
status=0
for golden in traces/expected/*.json; do
    trace=traces/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["trace"]["name"])' "$golden")
    "$bin" check "$trace" --expect "$golden" || status=1
done
exit $status
