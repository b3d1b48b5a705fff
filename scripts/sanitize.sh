#!/usr/bin/env bash
# The test suite under the sanitizers (docs/fuzzing.md).
#
#   scripts/sanitize.sh            both: address, then thread
#   scripts/sanitize.sh address    the whole suite with AddressSanitizer (.build-asan)
#   scripts/sanitize.sh thread     the threaded decode pipeline with ThreadSanitizer (.build-tsan):
#                                  the gzip inflater thread (ThreadedInput), the batch pipeline
#                                  (a reader thread feeding engines) and sweep's parallel engines
#
# Each prints its wall time. Exit status: non-zero if a sanitizer reported anything or a test
# failed. SANITIZE_FILTER overrides the thread run's --filter.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
# The thread run: every test that goes through TraceReader's inflate thread, BatchPipeline,
# ReplayDriver or SweepDriver.
tsan_filter=${SANITIZE_FILTER:-'SweepCheckTests|TraceRegressionTests|DebugFaultTests|LargeTraceTests|RoundTripTests|WorkloadTests'}
# Swift's crash backtracer would read wild addresses under the sanitizers after a report.
export SWIFT_BACKTRACE=enable=no
# Every report is fatal. Leak checking is off: the engine's pages, objects and queues hold each
# other strongly by design (frames live as long as the machine), so every dropped Kernel leaks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

status=0
run() {
    local name=$1; shift
    local start=$SECONDS
    echo "sanitize.sh: $name: $*" >&2
    if "$@"; then
        echo "sanitize.sh: $name passed in $((SECONDS - start)) s" >&2
    else
        status=1
        echo "sanitize.sh: $name FAILED after $((SECONDS - start)) s" >&2
    fi
}

case $what in
    # The README/--help transcripts and the headless-browser test only drive the CLI through a
    # shell or Chromium; they cost a third of an ASan run and check nothing memory-related.
    address|all) run address swift test --disable-swift-testing --sanitize=address --scratch-path .build-asan \
        --skip 'testReadmeTranscriptsMatchTheRealOutput|testEveryHelpExampleRuns|HTMLReportTests' ;;&
    thread|all) run thread swift test --disable-swift-testing --sanitize=thread --scratch-path .build-tsan --filter "$tsan_filter" ;;
    address) ;;
    *) echo "usage: scripts/sanitize.sh [address|thread]" >&2; exit 64 ;;
esac
exit $status
