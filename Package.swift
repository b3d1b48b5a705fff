// swift-tools-version:6.0
import PackageDescription

// Release builds drop the runtime's dynamic exclusivity checks: the engine and the decoders are
// single-threaded per instance and the checks cost a fifth of the per-access time (callgrind,
// docs/performance.md). Debug builds, which the tests use, keep them.
let fast: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "vmreplay",
    products: [
        .executable(name: "vmreplay", targets: ["vmreplay"]),
        .library(name: "VMReplay", targets: ["VMReplay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // zlib through the system library (apt: zlib1g-dev).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Trace events, text and binary codecs, gzip streams, importers, generators.
        .target(name: "VMTrace", dependencies: ["CZlib"], swiftSettings: fast),
        // 4-level x86-64 page tables, PTE bits, TLBs, walks. No kernel knowledge.
        .target(name: "X86MMU", swiftSettings: fast),
        // The DragonFly BSD VM port: vm_map, vm_object, vm_page, vm_fault, pmap, pagers.
        .target(name: "VMKernel", dependencies: ["X86MMU"], swiftSettings: fast),
        // Replay driver, reports, sweep and check logic.
        .target(name: "VMReplay", dependencies: ["VMTrace", "VMKernel"], swiftSettings: fast),
        // The command-line front end.
        .executableTarget(
            name: "vmreplay",
            dependencies: [
                "VMReplay",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: fast
        ),
        .testTarget(name: "VMTraceTests", dependencies: ["VMTrace"], exclude: ["Fixtures"]),
        .testTarget(name: "X86MMUTests", dependencies: ["X86MMU"]),
        .testTarget(name: "VMKernelTests", dependencies: ["VMKernel"]),
        .testTarget(
            name: "VMReplayTests",
            dependencies: ["VMReplay", "VMTrace", "VMKernel"],
            exclude: ["Scenarios"]
        ),
    ],
    swiftLanguageModes: [.v5]
)
