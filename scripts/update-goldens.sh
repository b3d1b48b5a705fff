#!/usr/bin/env bash
# Rewrites every golden under traces/expected/ from a fresh replay of its trace, keeping the
# settings each golden records. Run after an intended change to the engine, review the diff
# (`git diff traces/expected`), and explain the changed counters in the commit message.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product vmreplay >/dev/null
bin=.build/release/vmreplay
for golden in traces/expected/*.json; do
    trace=traces/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["trace"]["name"])' "$golden")
    settings=$(python3 -c 'import json,sys; print(" ".join("-s %s=%d" % kv for kv in json.load(open(sys.argv[1]))["settings"].items()))' "$golden")
    # shellcheck disable=SC2086
    "$bin" check "$trace" --expect "$golden" $settings --update
done
