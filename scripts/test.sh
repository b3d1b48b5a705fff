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
swift test "$@"
