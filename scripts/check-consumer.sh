#!/usr/bin/env bash
# Checks that the library can be used the way Swift packages are normally consumed: as a
# versioned dependency. Clones this repository's committed HEAD into a temporary folder, tags the
# clone 0.1.0, and builds a small consumer package that depends on it with
# `.package(url: "file:///<clone>", from: "0.1.0")` and replays a two-line trace through the
# VMReplay product. SwiftPM refuses a versioned dependency whose targets use unsafeFlags
# ("contains unsafe build flags"), which branch and path dependencies let through unnoticed.
# About 2 minutes on the 2-core machine (a debug build of the library in the consumer).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/vmreplay"
git -C "$work/vmreplay" -c user.name=check -c user.email=check@localhost tag 0.1.0
mkdir -p "$work/consumer/Sources/Consumer"
cat > "$work/consumer/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "consumer",
    dependencies: [.package(url: "file://$work/vmreplay", from: "0.1.0")],
    targets: [
        .executableTarget(name: "Consumer", dependencies: [.product(name: "VMReplay", package: "vmreplay")]),
    ]
)
SWIFT
cat > "$work/consumer/Sources/Consumer/main.swift" <<'SWIFT'
import Foundation
import VMReplay

// The README's two-write example: two zero-fill faults.
let path = NSTemporaryDirectory() + "consumer-\(getpid()).txt"
try "vmtrace 1\nproc 1\nmmap 1 0x10000000 64K rw- private anon\nw 1 0x10000000\nw 1 0x10001000\n"
    .write(toFile: path, atomically: true, encoding: .utf8)
defer { try? FileManager.default.removeItem(atPath: path) }
let report = try ReplayDriver.run(path: path, configuration: ReplayConfiguration()).0
let faults = report["trap.page_faults"]?.asInt ?? -1
print("consumer: trap.page_faults = \(faults)")
if faults != 2 { exit(1) }
SWIFT
cd "$work/consumer"
if ! out=$(swift build 2>&1); then
    echo "$out" | tail -20 >&2
    echo "check-consumer: FAILED: a versioned dependency on vmreplay 0.1.0 does not build" >&2
    exit 1
fi
.build/debug/Consumer
echo "check-consumer: ok (vmreplay 0.1.0 as a versioned dependency)"
