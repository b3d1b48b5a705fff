// `vmreplay replay TRACE`: replay one trace and print what DragonFly would have counted.
import ArgumentParser
import Foundation
import VMKernel
import VMReplay
import VMTrace

/// A byte size with an optional binary K/M/G/T suffix (4G = 4 * 2^30).
struct ByteSize: ExpressibleByArgument {
    var bytes: UInt64
    init?(argument: String) {
        let s = argument.hasSuffix("T") || argument.hasSuffix("t")
            ? String(argument.dropLast()) : argument
        let tera = s.count != argument.count
        guard let v = parseNumber(s), v >= 0 else { return nil }
        let (b, overflow) = UInt64(v).multipliedReportingOverflow(by: tera ? 1 << 40 : 1)
        guard !overflow else { return nil }
        bytes = b
    }
}

/// One byte size, or a list of them for `sweep` (32M,64M).
struct ByteSizeList: ExpressibleByArgument {
    var all: [UInt64]
    var bytes: UInt64 { all[0] }
    init?(argument: String) {
        var sizes: [UInt64] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let size = ByteSize(argument: String(part)) else { return nil }
            sizes.append(size.bytes)
        }
        guard !sizes.isEmpty else { return nil }
        all = sizes
    }
}

extension ReportFormat: ExpressibleByArgument {}

/// Options every replaying command shares.
struct ReplayOptions: ParsableArguments {
    @Option(name: .customShort("s"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Set a tunable, as `sysctl -w` would before the workload ran (repeatable). `vmreplay sysctl -a` lists them.",
                               valueName: "name=value"))
    var settings: [String] = []

    @Option(help: ArgumentHelp("Simulated physical memory (K/M/G/T suffixes; default 64G, so nothing pages).", valueName: "size"))
    var physMem: ByteSizeList?

    @Option(help: ArgumentHelp("Simulated swap space (K/M/G/T suffixes; default 0: dirty anonymous pages cannot be paged out).", valueName: "size"))
    var swap: ByteSizeList?

    @Flag(inversion: .prefixedNo, help: "Show a progress line on stderr (default: when stderr is a terminal).")
    var progress: Bool?

    @Flag(help: "Skip and count malformed events instead of stopping at the first.")
    var keepGoing = false

    @Flag(help: "Check the engine's invariants (page tables, pv lists, object references, queues) every --invariant-interval events and at the end; a violation is an error (exit 65).")
    var checkInvariants = false

    @Option(help: ArgumentHelp("Events between two invariant checks.", valueName: "n"))
    var invariantInterval: Int = 10_000

    func parsedSettings() throws -> [Setting] {
        do {
            let parsed = try settings.map { text throws(SettingError) in try Setting(parsing: text) }
            try Setting.checkDistinctNames(parsed)
            return parsed
        } catch {
            printToStandardError("vmreplay: \(error.description)")
            throw ExitCode(64)
        }
    }

    func configuration(_ assignments: [(String, Int64)]) throws -> ReplayConfiguration {
        var c = ReplayConfiguration()
        do { c = try Setting.configuration(assignments, base: c) } catch {
            printToStandardError("vmreplay: \(error.description)")
            throw ExitCode(64)
        }
        guard (physMem?.all.count ?? 1) == 1, (swap?.all.count ?? 1) == 1 else {
            printToStandardError("vmreplay: --phys-mem and --swap take one size here (`vmreplay sweep` takes a list)")
            throw ExitCode(64)
        }
        if let physMem {
            guard physMem.bytes >= ReplayConfiguration.minimumPhysicalMemory else {
                printToStandardError("vmreplay: --phys-mem must be at least 4M")
                throw ExitCode(64)
            }
            c.physicalMemory = physMem.bytes
        }
        if let swap { c.swap = swap.bytes }
        guard invariantInterval >= 1 else {
            printToStandardError("vmreplay: --invariant-interval must be at least 1")
            throw ExitCode(64)
        }
        c.checkInvariants = checkInvariants
        c.invariantInterval = UInt64(invariantInterval)
        return c
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a trace and report the kernel's fault counters.",
        discussion: """
            Every access of the trace goes through a simulated x86-64 MMU; each page fault it \
            raises runs a port of DragonFly BSD's vm_fault (d709358f), and the report gives \
            what the kernel would have counted, under DragonFly's own names: \
            vm.stats.vm.v_vm_faults, v_zfod, v_cow_faults, rusage.ru_minflt/ru_majflt, and \
            the replay's own measurements (trap.*, prefault.*, mmu.*, mem.*, replay.*). \
            The tunables in force are echoed at the top.

            Examples:
              vmreplay replay traces/ls.vmt.gz
              vmreplay replay trace.txt -s vm.prefault_pages=16 -s vm.shared_fault=0
              vmreplay replay trace.vmt.gz --format json -o report.json
              vmreplay replay big.vmt.gz --phys-mem 256M --swap 1G --format sysctl
              vmreplay replay trace.txt -s vm.debug_fault=10   (first 10 faults, seed format, on stderr)
              vmreplay replay trace.vmt.gz --skip 1M --warmup 1M --window 100K

            Exit status: 0 success, 64 bad option or setting, 65 malformed trace, 66 missing \
            input, 73/74 output errors.
            """
    )

    @Argument(help: "The trace (text or .vmt, gzip or not; - for standard input).")
    var trace: String

    @OptionGroup var options: ReplayOptions

    @Option(help: "Report format: text, sysctl, json or csv.")
    var format: ReportFormat = .text

    @Option(name: .shortAndLong, help: "Write the report to this file (atomically) instead of stdout.")
    var output: String?

    @Flag(help: "Only inflate and parse the trace (no simulation): a decoding benchmark.")
    var decodeOnly = false

    @OptionGroup var windowOptions: WindowOptions

    @Option(help: ArgumentHelp("Report only the keys matching this glob (repeatable), like `sysctl -n` or check --keys; a glob that matches nothing is an error.", valueName: "glob"))
    var keys: [String] = []

    @OptionGroup(title: "Insight") var insight: InsightOptions

    func run() throws {
        let settings = try options.parsedSettings()
        var assignments: [(String, Int64)] = []
        for s in settings {
            guard s.values.count == 1 else {
                printToStandardError("vmreplay: -s \(s.name) has \(s.values.count) values; use `vmreplay sweep` to compare several")
                throw ExitCode(64)
            }
            assignments.append((s.name, s.values[0]))
        }
        let config = try options.configuration(assignments)
        let progress = ProgressLine(label: "replay", requested: options.progress)
        try runReportingErrors {
            try refuseOutputOverInput(output, option: "-o", inputs: [trace])
            installOutputCleanupOnSignals()
            if decodeOnly {
                let report = try ReplayDriver.decodeOnly(path: trace, keepGoing: options.keepGoing)
                try printToStandardOutput(report.render(format))
                return
            }
            if let windows = try windowOptions.windows(format: format) {
                try runWindowedReplay(trace: trace, configuration: config, windows: windows, keepGoing: options.keepGoing,
                                      format: format, output: output)
                return
            }
            var recorder: InsightRecorder?
            let result = try runReplayJob(trace: trace, progress: progress) {
                try ReplayDriver.run(path: trace, configuration: config, keepGoing: options.keepGoing,
                                     progress: progress.update, console: printToStandardError,
                                     prepare: { recorder = insight.recorder(for: $0) })
            }
            reportSkipped(result.skipped, result.samples)
            // --by tables come with the attribution renderer; otherwise the report with its
            // header and --keys selection. Timeline and HTML files are written either way.
            let insightText = try insight.finish(result.0, recorder: recorder, format: format, trace: trace)
            let text = insight.by != nil ? insightText
                : try ReportOutput.render(result.0, format: format, keys: keys, trace: trace,
                                          settings: assignments, configuration: config)
            try emit(text, to: output)
        }
    }
}

enum TraceReaderName {
    static func display(_ path: String) -> String { path == "-" ? "<stdin>" : path }
}

/// Runs a replaying job behind a progress line: the line is cleared when it ends, and a
/// ReplayError (the kernel refused an event the trace layer accepted) is printed with the
/// trace's name and exits 65.
func runReplayJob<T>(trace: String, progress: ProgressLine, _ body: () throws -> T) throws -> T {
    defer { progress.clear() }
    do {
        return try body()
    } catch let error as ReplayError {
        progress.clear()
        printToStandardError("vmreplay: \(TraceReaderName.display(trace)): \(error.description)")
        throw ExitCode(65)
    }
}

/// Writes a command's result to `output` atomically, or to standard output.
func emit(_ text: String, to output: String?) throws {
    if let output {
        try writeTextFileAtomically(text, to: output)
    } else {
        try printToStandardOutput(text)
    }
}
