#!/usr/bin/env bash
# Runs the docs test alone: every README block marked `<!-- docs-test: ... -->` is run and its
# shown output compared with the real one, and every `--help` example is run
# (Tests/VMReplayTests/DocsTests.swift; scripts/test.sh runs it with the rest of the suite).
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift test --disable-swift-testing --filter 'CLITests.testReadmeTranscriptsMatchTheRealOutput|CLITests.testEveryHelpExampleRuns' "$@"
