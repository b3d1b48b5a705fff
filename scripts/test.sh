#!/usr/bin/env bash
# The project's test command: installs what the build needs on a fresh Debian machine (zlib's
# headers for the CZlib system library), then runs the whole test suite — unit tests, the
# hand-derived scenario tests, and the golden checks of every sample trace under traces/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! pkg-config --exists zlib 2>/dev/null || [ ! -f /usr/include/zlib.h ]; then
    echo "test.sh: installing zlib1g-dev and pkg-config" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq zlib1g-dev pkg-config >/dev/null
fi
# The HTML report's test renders pages in headless Chromium (Debian's package); without it
# that test skips.
if ! command -v chromium >/dev/null 2>&1; then
    echo "test.sh: installing chromium (for the HTML report's test)" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; } \
        || echo "test.sh: could not install chromium; the HTML rendering test will skip" >&2
fi
# The suite is XCTest only; without Swift Testing's own (empty) run, the last summary line is
# XCTest's. A plain "N passed, N failed" line closes the output for CI.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?
# XCTest says "with N failures", or "with K tests skipped and N failures" when a test skipped.
line='^[[:space:]]*Executed ([0-9]+) tests?, with (([0-9]+) tests? skipped and )?([0-9]+) failures?'
summary=$(grep -E "$line" "$log" | tail -1 || true)
if [ -n "$summary" ]; then
    executed=$(echo "$summary" | sed -E "s/$line.*/\\1/")
    skipped=$(echo "$summary" | sed -E "s/$line.*/\\3/")
    failures=$(echo "$summary" | sed -E "s/$line.*/\\4/")
    skipped=${skipped:-0}
    [ "$skipped" -gt 0 ] && echo "tests: $skipped skipped"
    echo "tests: $((executed - failures - skipped)) passed, $failures failed"
fi
exit $status
