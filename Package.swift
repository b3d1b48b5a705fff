// swift-tools-version:6.0
import PackageDescription

// No unsafeFlags: SwiftPM refuses a package that has them as a versioned dependency
// (scripts/check-consumer.sh builds one). The hot stored properties carry
// @exclusivity(unchecked) instead of a global -enforce-exclusivity=unchecked, and release builds
// get the compiler's default cross-module optimization (-enable-default-cmo) rather than
// -cross-module-optimization; docs/performance.md has the figures.
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
        // Trace events, text and binary codecs, gzip streams: all a program that reads traces links.
        .target(name: "VMTrace", dependencies: ["CZlib"]),
        // The Valgrind Lackey importer (logs + --trace-syscalls=yes) that writes vmtrace events.
        .target(name: "VMTraceLackey", dependencies: ["VMTrace"]),
        // The synthetic workload generators behind `vmreplay gen`.
        .target(name: "VMWorkloads", dependencies: ["VMTrace"]),
        // 4-level x86-64 page tables, PTE bits, TLBs, walks. No kernel knowledge.
        .target(name: "X86MMU"),
        // The DragonFly BSD VM port: vm_map, vm_object, vm_page, vm_fault, pmap, pagers.
        .target(name: "VMKernel", dependencies: ["X86MMU"]),
        // Replay driver, reports, sweep and check logic.
        .target(name: "VMReplay", dependencies: ["VMTrace", "VMKernel"]),
        // The command-line front end.
        .executableTarget(
            name: "vmreplay",
            dependencies: [
                "VMReplay", "VMTraceLackey", "VMWorkloads",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "VMTraceTests", dependencies: ["VMTrace", "VMTraceLackey", "VMWorkloads"], exclude: ["Fixtures"]),
        .testTarget(name: "X86MMUTests", dependencies: ["X86MMU"]),
        .testTarget(name: "VMKernelTests", dependencies: ["VMKernel"]),
        .testTarget(
            name: "VMReplayTests",
            dependencies: ["VMReplay", "VMTrace", "VMTraceLackey", "VMWorkloads", "VMKernel"],
            exclude: ["Scenarios"]
        ),
    ],
    // Swift 6 mode: complete concurrency checking. The decode threads take their input over with
    // HandedOver (VMTrace), and a sweep's engines are @unchecked Sendable because each is driven
    // by one worker at a time.
    swiftLanguageModes: [.v6]
)
