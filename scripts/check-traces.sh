#!/usr/bin/env bash
# Checks every sample trace against its goldens in one process (what CI's test suite also does
# through TraceRegressionTests): one summary table; exit 1 if any counter changed, 65 if a
# trace could not be replayed. Extra arguments go to check (e.g. --update, --jobs 1).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product vmreplay >/dev/null
exec .build/release/vmreplay check traces/ --expect-dir traces/expected "$@"
